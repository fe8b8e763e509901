"""Property-based: schemathesis generates requests from /openapi.json, valid and invalid, for every
operation (mutations with a valid token), against the running API of a real pipeline with a
collected repository. No answer may be a 5xx, and every answer must match the document."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.integration.apistack import (
    API_TOKEN,
    Collected,
)
from watershed.pipeline import Pipeline

schemathesis = pytest.importorskip("schemathesis", reason="the test extra installs schemathesis")
hypothesis = pytest.importorskip("hypothesis")

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 40


def fuzz(base_url: str) -> dict[str, Counter[int]]:
    """Runs in a thread (the API answers from the test's event loop); returns the statuses seen
    per generation mode and operation."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    seen: dict[str, Counter[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            statuses = seen.setdefault(f"{mode.value} {operation.label}", Counter())
            try:
                _fuzz_operation(base_url, operation, mode, statuses)
            except hypothesis.errors.Unsatisfiable:
                if mode is schemathesis.GenerationMode.POSITIVE:
                    raise
                # An operation with no parameter and no body has no invalid request to make.
    return seen


def _fuzz_operation(base_url: str, operation: Any, mode: Any, statuses: Counter[int]) -> None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    headers = {"Authorization": f"Bearer {API_TOKEN}"}

    @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(hypothesis.HealthCheck),
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=checks)

    check()


async def test_no_request_makes_the_api_fail(api_pipeline: Pipeline, api_repo: Collected) -> None:
    # Whatever URL the fuzzer registers is collected: the collector only reaches the fake forge,
    # but the facade would clone any host named, so it stops here (its jobs just wait).
    facade = next(s for s in api_pipeline.services if s.name == "facade")
    await facade.stop()
    api_pipeline.services.remove(facade)
    seen = await asyncio.to_thread(fuzz, api_repo.base_url)
    async with httpx.AsyncClient() as http:
        document = (await http.get(f"{api_repo.base_url}/openapi.json")).json()
    operations = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops if p != "/openapi.json"}
    assert {key.split(" ", 1)[1] for key in seen} == operations
    # With valid data the token was taken: refusals were for the input, never the credentials
    # (negative cases also send a broken Authorization header, and those must be refused).
    positive = {key.split(" ", 1)[1]: statuses for key, statuses in seen.items() if key.startswith("positive ")}
    assert not [op for op, statuses in positive.items() if statuses[401] or statuses[403]]
    refused = sum(statuses[401] for key, statuses in seen.items() if key.startswith("negative "))
    assert refused > 0
    assert positive["POST /api/v1/groups"][201] > 0 and positive["GET /api/v1/repos/{repo_id}"][200] > 0
