"""The deployment files give the REST API its tokens from a Secret (Kubernetes) or the host's
environment (compose), to the scheduler only."""

from __future__ import annotations

from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml (test extra) is needed to read the deployment files")

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_k8s_scheduler_reads_api_tokens_from_the_secret() -> None:
    (scheduler,) = [d for d in _docs(K8S / "scheduler.yaml") if d["kind"] == "Deployment"]
    spec = scheduler["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    path = next(e["value"] for e in container["env"] if e["name"] == "WATERSHED_API_TOKENS_FILE")
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
    directory, key = path.rsplit("/", 1)
    (volume,) = [name for name, mount in mounts.items() if mount == directory]
    secrets = {d["metadata"]["name"]: d for d in _docs(K8S / "secret.example.yaml")}
    assert key in secrets[volumes[volume]]["stringData"]
    for name in ("collector.yaml", "processor.yaml", "facade.yaml"):
        assert "API_TOKENS" not in (K8S / name).read_text(), f"{name}: only the scheduler gets the API tokens"
    configmap = _docs(K8S / "configmap.yaml")[0]["data"]
    assert "WATERSHED_API_CORS_ORIGINS" in configmap


def test_compose_gives_the_api_tokens_to_the_scheduler_only() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    env = services["scheduler"]["environment"]
    assert env["WATERSHED_API_TOKENS"] == "${WATERSHED_API_TOKENS:-}"
    assert env["WATERSHED_NATS_URL"].startswith("nats://"), "the shared environment is merged in"
    assert all("WATERSHED_API_TOKENS" not in (s.get("environment") or {}) for n, s in services.items() if n != "scheduler")
