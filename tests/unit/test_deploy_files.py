"""Static checks of the deployment files: Dockerfile, docker-compose.yml, deploy/k8s.

Pure Python (pyyaml only): the real validators (check-jsonschema's compose schema,
kubernetes-validate, hadolint, yamllint) are not needed in CI. These tests pin the
contracts between the code and the deployment: which modules run, which
environment every container gets, which endpoints the probes hit, and that no
credential is committed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml (test extra) is needed to read the deployment files")

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
K8S = ROOT / "deploy" / "k8s"

SERVICES = {"collector", "processor", "facade", "analysis", "resolver", "scheduler"}
MODULE = re.compile(r"^services\.([a-z_]+)$")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}

# Shapes of real credentials that must never be committed.
SECRET_PATTERNS = [
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"),  # GitLab
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}"),  # Slack
]
SENSITIVE_NAME = re.compile(r"TOKEN|PASSWORD|SECRET|DATABASE_URL|API_KEY", re.IGNORECASE)
INTERPOLATION = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}$")


def _load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


@pytest.fixture(scope="module")
def k8s_docs(kustomization: dict) -> list[tuple[str, dict]]:
    docs = []
    for name in kustomization["resources"]:
        docs.extend((name, doc) for doc in _load_all(K8S / name))
    return docs


def _workloads(k8s_docs):
    return [(f, d) for f, d in k8s_docs if d.get("kind") in WORKLOAD_KINDS]


def _pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def _modules(argv) -> set[str]:
    """Service names run as ``python -m services.<name>`` in a command list."""
    argv = list(argv or [])
    return {m.group(1) for a in argv if isinstance(a, str) and (m := MODULE.match(a))}


def _uses_image(svc: dict) -> bool:
    return "build" in svc or str(svc.get("image", "")).startswith("watershed")


def _assert_module_exists(name: str) -> None:
    assert name in SERVICES, f"unknown service module services.{name}"
    assert (ROOT / "services" / name).is_dir() or (ROOT / "services" / f"{name}.py").is_file(), (
        f"services.{name} is run by a deployment file but does not exist"
    )


# --- docker-compose.yml -------------------------------------------------------


def test_compose_runs_every_service_once_from_existing_modules(compose):
    seen: dict[str, str] = {}
    for cname, svc in compose["services"].items():
        for module in _modules(svc.get("command")):
            _assert_module_exists(module)
            assert module not in seen, f"services.{module} runs in both {seen[module]} and {cname}"
            seen[module] = cname
    assert set(seen) == SERVICES


def test_compose_image_services_get_nats_and_database_urls(compose):
    image_services = {n: s for n, s in compose["services"].items() if _uses_image(s)}
    assert set(image_services) >= SERVICES | {"migrate"}
    for name, svc in image_services.items():
        env = svc.get("environment") or {}
        assert isinstance(env, dict), f"{name}: environment should be a mapping"
        assert str(env.get("WATERSHED_NATS_URL", "")).startswith("nats://"), name
        assert str(env.get("WATERSHED_DATABASE_URL", "")).startswith("postgresql://"), name
        assert env.get("WATERSHED_HTTP_HOST") == "0.0.0.0", name


def test_compose_migrate_runs_first(compose):
    services = compose["services"]
    assert services["migrate"]["command"] == ["watershed", "migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in SERVICES:
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert deps["nats"]["condition"] == "service_healthy", name
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert services[name]["restart"] == "unless-stopped", name
        assert services[name]["stop_grace_period"] == "60s", name


def test_compose_infrastructure(compose):
    services = compose["services"]
    nats = services["nats"]
    assert nats["image"].startswith("nats:2.10")
    assert "-js" in nats["command"] and "-sd" in nats["command"]
    assert "8222/healthz" in " ".join(nats["healthcheck"]["test"])
    pg = services["postgres"]
    assert pg["image"].startswith("postgres:16")
    assert "pg_isready" in pg["healthcheck"]["test"]


def test_compose_ports_and_volumes(compose):
    services = compose["services"]
    published = {n for n, s in services.items() if s.get("ports")}
    assert published == {"scheduler"}, "only the scheduler (REST API) is published to the host"
    assert any(str(v).startswith("clones:") for v in services["facade"]["volumes"])
    assert "clones" in compose["volumes"]
    assert services["facade"]["environment"]["WATERSHED_CLONES_DIR"] == "/var/lib/watershed/clones"


def test_compose_sensitive_values_come_from_the_host_environment(compose):
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        for key, value in env.items():
            if not SENSITIVE_NAME.search(key) or key.endswith("_FILE"):
                continue
            value = str(value)
            if key == "WATERSHED_DATABASE_URL":
                match = re.match(r"^postgresql://[^:@/]+:(?P<pw>[^@]*)@", value)
                assert match, f"{name}: {key} should be postgresql://user:${{...}}@host/db"
                value = match.group("pw")
            assert INTERPOLATION.match(value), f"{name}: {key} must come from ${{...}}, not be written here"
    assert compose["services"]["collector"]["environment"]["WATERSHED_GITHUB_TOKENS"] == (
        "${WATERSHED_GITHUB_TOKENS:-}"
    )


# --- deploy/k8s ---------------------------------------------------------------


def test_kustomization_lists_existing_files_and_no_examples(kustomization):
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    for name in listed:
        assert (K8S / name).is_file(), f"kustomization lists missing {name}"
        assert ".example." not in name, f"{name} must not be applied by kustomize"
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    unlisted = {n for n in manifests - set(listed) if ".example." not in n}
    assert not unlisted, f"manifests not in kustomization.yaml: {sorted(unlisted)}"


def test_k8s_runs_every_service_from_existing_modules(k8s_docs):
    seen = set()
    for _, doc in _workloads(k8s_docs):
        spec = _pod_spec(doc)
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            for module in _modules((c.get("command") or []) + (c.get("args") or [])):
                _assert_module_exists(module)
                seen.add(module)
    assert seen == SERVICES


def test_k8s_probes_point_at_healthz_and_readyz(k8s_docs):
    for fname, doc in _workloads(k8s_docs):
        if doc["kind"] == "Job":
            continue
        for c in _pod_spec(doc)["containers"]:
            where = f"{fname}:{c['name']}"
            ports = {p.get("name") for p in c["ports"]} | {p["containerPort"] for p in c["ports"]}
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", where
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", where
            if "startupProbe" in c:
                assert c["startupProbe"]["httpGet"]["path"] == "/healthz", where
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if probe in c:
                    assert c[probe]["httpGet"]["port"] in ports, where


def test_k8s_pods_are_scraped_secure_and_bounded(k8s_docs):
    for fname, doc in _workloads(k8s_docs):
        template = doc["spec"]["template"]
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, fname
        if doc["kind"] != "Job":
            annotations = template["metadata"]["annotations"]
            assert annotations["prometheus.io/scrape"] == "true", fname
            assert annotations["prometheus.io/path"] == "/metrics", fname
            assert spec["terminationGracePeriodSeconds"] >= 30, fname
        for c in spec["containers"] + spec.get("initContainers", []):
            where = f"{fname}:{c['name']}"
            assert set(c["resources"]) >= {"requests", "limits"}, where
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, where
            if c["securityContext"].get("readOnlyRootFilesystem"):
                mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
                assert "/tmp" in mounts, f"{where}: read-only root needs a writable /tmp"


def test_k8s_containers_get_nats_and_database_urls(k8s_docs):
    configmaps = {d["metadata"]["name"]: d["data"] for _, d in k8s_docs if d["kind"] == "ConfigMap"}
    for fname, doc in _workloads(k8s_docs):
        spec = _pod_spec(doc)
        for c in spec["containers"] + spec.get("initContainers", []):
            env = {}
            for source in c.get("envFrom", []):
                env.update(configmaps[source["configMapRef"]["name"]])
            env.update({e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])})
            where = f"{fname}:{c['name']}"
            assert str(env.get("WATERSHED_NATS_URL", "")).startswith("nats://"), where
            db = env.get("WATERSHED_DATABASE_URL")
            assert isinstance(db, dict) and "secretKeyRef" in db, f"{where}: database URL must come from a Secret"


def test_k8s_facade_keeps_clones_on_a_volume_claim(k8s_docs):
    (facade,) = [d for _, d in _workloads(k8s_docs) if d["metadata"]["name"] == "watershed-facade"]
    assert facade["kind"] == "StatefulSet"
    claims = {t["metadata"]["name"] for t in facade["spec"]["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"] for m in _pod_spec(facade)["containers"][0]["volumeMounts"]}
    assert "clones" in claims
    configmap = next(d for _, d in k8s_docs if d["kind"] == "ConfigMap")
    assert mounts["clones"] == configmap["data"]["WATERSHED_CLONES_DIR"]


def test_k8s_migrations_run_before_the_writer(k8s_docs):
    jobs = [d for _, d in k8s_docs if d["kind"] == "Job"]
    assert any(_pod_spec(j)["containers"][0]["args"] == ["watershed", "migrate"] for j in jobs)
    (processor,) = [d for _, d in k8s_docs if d["metadata"]["name"] == "watershed-processor" and d["kind"] == "Deployment"]
    assert _pod_spec(processor)["initContainers"][0]["args"] == ["watershed", "migrate"]


def test_k8s_scheduler_has_an_api_service(k8s_docs):
    services = [d for _, d in k8s_docs if d["kind"] == "Service"]
    api = [s for s in services if s["spec"]["selector"].get("app.kubernetes.io/component") == "scheduler"]
    assert api and api[0]["spec"].get("clusterIP") != "None"
    assert any(p["port"] == 8080 for p in api[0]["spec"]["ports"])


def test_k8s_secrets_hold_no_values():
    for path in K8S.glob("*.yaml"):
        for doc in _load_all(path):
            if doc.get("kind") != "Secret":
                continue
            for key, value in {**doc.get("stringData", {}), **doc.get("data", {})}.items():
                assert not value, f"{path.name}: Secret {doc['metadata']['name']} key {key} must stay empty"


def test_k8s_env_has_no_literal_secrets(k8s_docs):
    for fname, doc in _workloads(k8s_docs):
        spec = _pod_spec(doc)
        for c in spec["containers"] + spec.get("initContainers", []):
            for e in c.get("env", []):
                if SENSITIVE_NAME.search(e["name"]) and not e["name"].endswith("_FILE"):
                    assert "value" not in e, f"{fname}: {e['name']} must come from a Secret"
    for _, doc in k8s_docs:
        if doc["kind"] == "ConfigMap":
            assert not any(SENSITIVE_NAME.search(k) for k in doc["data"]), "secrets do not belong in a ConfigMap"


def test_k8s_github_enterprise_patch_fits_the_collector(k8s_docs):
    (patch,) = _load_all(K8S / "github-enterprise.example.yaml")
    (collector,) = [d for _, d in _workloads(k8s_docs) if d["metadata"]["name"] == patch["metadata"]["name"]]
    assert patch["kind"] == collector["kind"]
    (container,) = _pod_spec(patch)["containers"]
    assert container["name"] in {c["name"] for c in _pod_spec(collector)["containers"]}
    env = {e["name"]: e["value"] for e in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v["secret"]["secretName"] for v in _pod_spec(patch)["volumes"]}
    path = env["WATERSHED_GITHUB_ENTERPRISE_TOKENS_FILE"]
    assert path.rsplit("/", 1)[0] == mounts["github-enterprise-tokens"]
    assert volumes["github-enterprise-tokens"] == "watershed-github-enterprise-tokens"
    secrets = {d["metadata"]["name"]: d for d in _load_all(K8S / "secret.example.yaml") if d["kind"] == "Secret"}
    key = path.rsplit("/", 1)[1]
    assert key in secrets[volumes["github-enterprise-tokens"]]["stringData"], "the file is a key of the Secret"
    configmap = next(d for _, d in k8s_docs if d["kind"] == "ConfigMap")
    assert "WATERSHED_GITHUB_ENTERPRISE_HOSTS" in configmap["data"]


# --- every deployment file ----------------------------------------------------


def test_every_setting_is_documented_in_the_readme():
    read = set(re.findall(r'\(\s*"([A-Z][A-Z0-9_]+)"', (ROOT / "shared" / "settings.py").read_text()))
    assert {"GITHUB_ENTERPRISE_HOSTS", "GITHUB_ENTERPRISE_TOKENS_FILE"} <= read, "the pattern finds the settings"
    readme = (ROOT / "README.md").read_text()
    assert not sorted(n for n in read if n not in readme), "settings missing from README.md"


def test_compose_passes_the_github_enterprise_settings(compose):
    env = compose["services"]["collector"]["environment"]
    for name in ("WATERSHED_GITHUB_ENTERPRISE_HOSTS", "WATERSHED_GITHUB_ENTERPRISE_GIT_URLS",
                 "WATERSHED_GITHUB_ENTERPRISE_TOKENS"):
        assert env[name] == f"${{{name}:-}}", name


def _deployment_files() -> list[Path]:
    return [COMPOSE, DOCKERFILE, DOCKERIGNORE, *sorted(K8S.glob("*"))]


@pytest.mark.parametrize("path", _deployment_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_credentials_committed(path):
    text = path.read_text()
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(text), f"{path.name} contains something shaped like a credential"


# --- Dockerfile ---------------------------------------------------------------


def test_dockerfile_contract():
    text = DOCKERFILE.read_text()
    instructions = [line.split(None, 1) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    keywords = [parts[0].upper() for parts in instructions]
    assert "python:3.11-slim" in text
    assert "HEALTHCHECK" not in keywords, "orchestrators probe HTTP; the image has no HEALTHCHECK"
    assert re.search(r"pip install --no-cache-dir \.(\s|$)", text), "installs the distribution without extras"
    assert not re.search(r"pip install[^\n]*\.\[", text), "no dev/test extras in the image"
    assert re.search(r"apt-get install[^\n]*\bgit\b", text), "the facade needs git"
    users = [parts[1].strip() for parts in instructions if parts[0].upper() == "USER"]
    assert users and not users[-1].startswith(("root", "0")), "runs as a non-root user"
    cmd = [parts[1] for parts in instructions if parts[0].upper() == "CMD"][-1]
    assert "--help" in cmd


def test_dockerignore_keeps_the_context_small():
    entries = {line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "tests", "**/__pycache__"} <= entries
    # what `pip install .` needs must stay in the context
    for needed in ("pyproject.toml", "watershed", "shared", "services", "README.md"):
        assert needed not in entries
