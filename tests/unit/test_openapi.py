"""The OpenAPI document is generated from the route table, validates as OpenAPI 3.1, and
describes every API route (and no dashboard page) with its auth."""

from __future__ import annotations

from typing import Any

import pytest

from services.scheduler.web import ControlPlane
from shared.metrics import Metrics
from shared.settings import load_settings

openapi_spec_validator = pytest.importorskip("openapi_spec_validator", reason="the test extra installs it")


class _NotStarted:
    settings = load_settings({})
    pool = None


@pytest.fixture(scope="module")
def plane() -> ControlPlane:
    return ControlPlane(_NotStarted(), Metrics(), "scheduler")


@pytest.fixture(scope="module")
def document(plane: ControlPlane) -> dict[str, Any]:
    return plane.document()


def test_document_validates(document: dict[str, Any]) -> None:
    openapi_spec_validator.validate(document)
    assert document["openapi"].startswith("3.")


def test_every_api_route_is_described_with_its_auth(plane: ControlPlane, document: dict[str, Any]) -> None:
    described = {(m.upper(), path) for path, ops in document["paths"].items() for m in ops}
    routes = {(r.method, r.template) for r in plane.router.routes if not r.page}
    assert described == routes
    assert not [p for p in document["paths"] if not p.startswith(("/api/v1/", "/openapi.json"))], "no pages"
    for route in plane.router.routes:
        if route.page:
            continue
        operation = document["paths"][route.template][route.method.lower()]
        assert ("security" in operation) == route.mutation, route.template
        if route.mutation:
            assert {"401", "403"} <= set(operation["responses"])
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_schemas_come_from_the_msgspec_types(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert {"RepoPage", "RepoDetail", "PhaseReport", "QueueView", "DeadLetterPage", "TokenPools", "TokenBudget",
            "Problem"} <= set(schemas)
    repo_id = next(p for p in document["paths"]["/api/v1/repos/{repo_id}"]["get"]["parameters"]
                   if p["name"] == "repo_id")
    assert repo_id["schema"]["maximum"] == 2**31 - 1, "no id a Postgres integer cannot hold"
    assert "token" in schemas["TokenBudget"]["properties"]
