"""The OpenAPI 3.1 document, generated from the route table and the msgspec types.

Nothing here is written by hand per endpoint: paths, parameters, bodies, responses and
security come from each :class:`~services.scheduler.web.router.Route`; schemas come from
``msgspec.json.schema_components``. Pure: routes in, a dict out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from services.scheduler.web.router import JSON, PROBLEM, Problem, Route

REF = "#/components/schemas/{name}"
_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 400: "Malformed request", 401: "Authentication required",
            403: "Mutations are disabled (no API tokens configured)", 404: "Not found", 409: "Conflict",
            413: "Request body too large", 415: "Unsupported media type", 422: "Invalid input",
            503: "A dependency is unavailable"}


def _operation_id(route: Route) -> str:
    """The handler's name (``list_repos``) in camel case: unique, and stable across versions."""
    first, *rest = route.handler.__name__.split("_")
    return first + "".join(word.title() for word in rest)


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query or path parameter is absent rather than null: drop the null branch and default."""
    branches = schema.get("anyOf")
    if branches:
        rest = [b for b in branches if b != {"type": "null"}]
        if len(rest) == 1:
            schema = {**{k: v for k, v in schema.items() if k not in ("anyOf", "default")}, **rest[0]}
    if schema.get("default", 0) is None:
        schema = {k: v for k, v in schema.items() if k != "default"}
    return schema


def _parameters(struct: type[msgspec.Struct] | None, where: str, components: dict[str, Any]) -> list[dict[str, Any]]:
    if struct is None:
        return []
    schema = components[struct.__name__]
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        param: dict[str, Any] = {"name": name, "in": where, "required": where == "path" or name in required,
                                 "schema": _without_null(prop)}
        if "description" in prop:
            param["description"] = prop["description"]
        params.append(param)
    return params


def _schema_for(value: Any) -> dict[str, Any]:
    """The schema of a response type: a ref for structs, inline for the rest."""
    if isinstance(value, type) and issubclass(value, msgspec.Struct):
        return {"$ref": REF.format(name=value.__name__)}
    (schema,), _ = msgspec.json.schema_components([value], ref_template=REF)
    return schema


def build_document(routes: Sequence[Route], *, title: str, version: str, description: str) -> dict[str, Any]:
    api = [r for r in routes if not r.page]
    types: list[Any] = [Problem]
    params: list[Any] = []
    for route in api:
        params += [t for t in (route.path_params, route.query) if t is not None]
        types += [t for t in [route.body, *(t for t, _ in route.responses.values())] if t is not None]
    _, components = msgspec.json.schema_components(types, ref_template=REF)
    # Parameters are inlined into each operation; their structs are no schema of their own.
    _, param_schemas = msgspec.json.schema_components(params, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in api:
        operation: dict[str, Any] = {"operationId": _operation_id(route), "summary": route.summary,
                                     "tags": [route.tag] if route.tag else []}
        if route.handler.__doc__:
            operation["description"] = " ".join(route.handler.__doc__.split())
        parameters = (_parameters(route.path_params, "path", param_schemas)
                      + _parameters(route.query, "query", param_schemas))
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {"required": route.body_required, "content": {
                JSON: {"schema": {"$ref": REF.format(name=route.body.__name__)}}}}
        responses: dict[str, Any] = {}
        for status, (kind, text) in sorted(route.responses.items()):
            if status >= 400:
                continue
            responses[str(status)] = {"description": text or _REASONS.get(status, ""),
                                      "content": {JSON: {"schema": _schema_for(kind)}}}
        # Any read may meet an unreachable database (503); parameters may be malformed or name nothing.
        errors = {503} | ({400, 404} if route.query or route.path_params else set())
        if route.body is not None:
            errors |= {400, 413, 415, 422}
        if route.mutation:
            errors |= {401, 403}
            operation["security"] = [{"bearer": []}]
        for status in sorted(errors | {s for s in route.responses if s >= 400}):
            responses[str(status)] = {"description": _REASONS.get(status, "Error"),
                                      "content": {PROBLEM: {"schema": {"$ref": REF.format(name="Problem")}}}}
        operation["responses"] = responses
        paths.setdefault(route.template, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description,
                 "license": {"name": "MIT", "identifier": "MIT"}},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "a token from WATERSHED_API_TOKENS"}}},
    }
