"""POST /graphql (and /api/graphql) as GitHub answers it.

One request, in order: authentication (GitHub's GraphQL refuses anonymous calls), the JSON
body, parsing and validation against GitHub's real schema (data/github-schema.graphql, errors
worded as GitHub's graphql-ruby words them), variables, GitHub's static limits and cost
(_graphql_cost), the `graphql` rate-limit bucket, the big-query 502 knob, then execution
(_graphql_exec). Every GraphQL-level failure is an HTTP 200 with an `errors` list, as on
GitHub; only authentication (401), unparsable JSON (400) and the 502 knob change the status.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    Node,
    OperationDefinitionNode,
    build_schema,
    execute_sync,
    parse,
    print_ast,
    validate,
    visit,
)
from graphql.execution.values import get_variable_values
from graphql.language import FieldNode, Visitor
from graphql.utilities import get_operation_ast

from shared.fakeforge import _graphql_exec as gexec
from shared.fakeforge._graphql_cost import QueryCost, query_cost
from shared.fakeforge._http import Reply
from shared.fakeforge.dataset import Json, encode_json

if TYPE_CHECKING:
    from shared.fakeforge.server import FakeForge

GRAPHQL_PATHS = ("/graphql", "/api/graphql")
_JSON = "application/json; charset=utf-8"
_DOCS = "https://docs.github.com/graphql"
_AUTH_DOCS = ("https://docs.github.com/graphql/guides/forming-calls-with-graphql"
              "#authenticating-with-graphql")
_TIMEOUT = ("Something went wrong while executing your query. This may be the result of a "
            "timeout, or it could be a GitHub bug. Please include `F00D:1234:5678:9ABC:DEF0` "
            "when reporting this issue.")


@functools.cache
def github_schema() -> GraphQLSchema:
    # Cached per process: the schema is immutable and takes ~2 s to build, and a test run
    # starts dozens of forges.
    sdl = (resources.files("shared.fakeforge") / "data" / "github-schema.graphql").read_text(
        encoding="utf-8")
    return build_schema(sdl, assume_valid_sdl=True)


def is_graphql_path(path: str) -> bool:
    return path.rstrip("/") in GRAPHQL_PATHS


def graphql_reply(forge: FakeForge, method: str, token: str | None, body: bytes,
                  user_id: Callable[[str], int]) -> Reply:
    if method != "POST":
        return _reply(404, {"message": "Not Found", "documentation_url": _DOCS})
    if token is None:
        return _reply(401, {"message": "This endpoint requires you to be authenticated.",
                            "documentation_url": _AUTH_DOCS})
    if forge.tokens is not None and token not in forge.tokens:
        return _reply(401, {"message": "Bad credentials", "documentation_url": _DOCS})
    limiter, key, limit = forge._limiter, f"token:{token}", forge.graphql_rate_limit
    quota = limiter.quota(key, limit, resource="graphql")
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return _reply(400, {"message": "Problems parsing JSON", "documentation_url": _DOCS},
                      quota.headers())
    query = request.get("query") if isinstance(request, dict) else None
    if not isinstance(query, str):
        return _reply(200, {"errors": [{"message": "A query attribute must be specified and "
                                                   "must be a string."}]}, quota.headers())
    variables = request.get("variables") or {}
    prepared = _prepare(query, variables if isinstance(variables, dict) else {},
                        request.get("operationName"))
    if isinstance(prepared, list):
        return _reply(200, {"errors": prepared}, quota.headers())
    document, operation, coerced, cost = prepared
    if quota.remaining < cost.points:
        return _reply(200, {"errors": [{
            "type": "RATE_LIMITED",
            "message": f"API rate limit exceeded for user ID {user_id(token)}."}]},
            quota.headers())
    ceiling = forge.graphql_max_nodes_before_502
    if ceiling is not None and cost.nodes > ceiling:
        return _reply(502, {"data": None, "errors": [{"message": _TIMEOUT}]}, quota.headers())
    quota = limiter.spend(key, limit, cost=cost.points, resource="graphql")
    rate_limit = {"cost": cost.points, "limit": quota.limit, "remaining": quota.remaining,
                  "used": quota.used, "nodeCount": cost.nodes,
                  "resetAt": datetime.fromtimestamp(quota.reset, UTC).strftime(
                      "%Y-%m-%dT%H:%M:%SZ")}
    context = gexec.Context(forge.dataset, rate_limit, user_id(token))
    result = execute_sync(github_schema(), document, root_value=gexec.root_value(context),
                          context_value=context, variable_values=coerced,
                          operation_name=operation.name.value if operation.name else None,
                          field_resolver=gexec.resolve_field, type_resolver=gexec.resolve_type)
    payload: Json = {"data": result.data}
    if result.errors:
        payload["errors"] = [gexec.located(error) for error in result.errors]
    return _reply(200, payload, quota.headers())


def _prepare(query: str, variables: dict[str, Any], operation_name: Any
             ) -> list[Json] | tuple[DocumentNode, OperationDefinitionNode, dict[str, Any],
                                     QueryCost]:
    """The parsed query, its operation, coerced variables and cost, or GitHub's errors."""
    schema = github_schema()
    try:
        document = parse(query)
    except GraphQLError as exc:
        return [_parse_error(exc)]
    errors = validate(schema, document)
    if errors:
        return [_validation_error(document, error) for error in errors]
    operation = get_operation_ast(document, operation_name if isinstance(operation_name, str)
                                  else None)
    if operation is None:
        return [{"message": "An operation name is required" if operation_name is None
                 else f'No operation named "{operation_name}"'}]
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    if isinstance(coerced, list):
        return [_variable_error(operation, variables, error) for error in coerced]
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    cost = query_cost(schema, operation, fragments, coerced)
    if cost.errors:
        return [{"type": e.type, "path": e.path,
                 "locations": [{"line": e.line, "column": e.column}], "message": e.message}
                for e in cost.errors]
    return document, operation, coerced, cost


def _reply(status: int, body: Json, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"content-type": _JSON, **(headers or {})}, encode_json(body))


# -- graphql-core's messages reworded as GitHub (graphql-ruby) words them ---------------------

def _locations(error: GraphQLError) -> list[Json]:
    return [{"line": loc.line, "column": loc.column} for loc in error.locations or []]


def _parse_error(error: GraphQLError) -> Json:
    found = re.search(r"found (.+?)\.?$", error.message)
    token = found.group(1).strip("'<>") if found else "end of file"
    where = (f" at [{error.locations[0].line}, {error.locations[0].column}]"
             if error.locations else "")
    return {"message": f'Parse error on "{token}"{where}', "locations": _locations(error)}


_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], tuple[str, Json]]]] = [
    (re.compile(r"Cannot query field '(\w+)' on type '(\w+)'"),
     lambda m: (f"Field '{m[1]}' doesn't exist on type '{m[2]}'",
                {"code": "undefinedField", "typeName": m[2], "fieldName": m[1]})),
    (re.compile(r"Field '(\w+)' argument '(\w+)' of type '[^']+' is required"),
     lambda m: (f"Field '{m[1]}' is missing required arguments: {m[2]}",
                {"code": "missingRequiredArguments", "className": "Field", "name": m[1],
                 "arguments": m[2]})),
    (re.compile(r"Unknown argument '(\w+)' on field '\w+\.(\w+)'"),
     lambda m: (f"Field '{m[2]}' doesn't accept argument '{m[1]}'",
                {"code": "argumentNotAccepted", "name": m[2], "typeName": "Field",
                 "argumentName": m[1]})),
    (re.compile(r"Unknown type '(\w+)'"),
     lambda m: (f"No such type {m[1]}, so it can't be a fragment condition",
                {"code": "undefinedType", "typeName": m[1]})),
    (re.compile(r"Variable '\$(\w+)' of type '([^']+)' used in position expecting type "
                r"'([^']+)'"),
     lambda m: (f"{'Nullability' if m[2].rstrip('!') == m[3].rstrip('!') else 'Type'} "
                f"mismatch on variable ${m[1]} and argument {{argument}} ({m[2]} / {m[3]})",
                {"code": "variableMismatch", "variableName": m[1], "typeName": m[2],
                 "argumentName": "{argument}", "errorMessage": "Type mismatch"})),
]


def _validation_error(document: DocumentNode, error: GraphQLError) -> Json:
    message, extensions = error.message, None
    for pattern, reword in _RULES:
        match = pattern.search(error.message)
        if match is not None:
            message, extensions = reword(match)
            break
    else:
        argument = _argument_of(document, error.nodes[-1] if error.nodes else None)
        if argument is not None and ("cannot represent" in message or "Expected value" in message):
            expected = re.search(r"Expected value of type '([^']+)'", message)
            type_name = expected[1] if expected else re.sub(r" cannot represent.*", "", message)
            message = (f"Argument '{argument[0]}' on Field '{argument[1]}' has an invalid value "
                       f"({argument[2]}). Expected type '{type_name}'.")
            extensions = {"code": "argumentLiteralsIncompatible", "typeName": "Field",
                          "argumentName": argument[0]}
    if "{argument}" in message:
        argument = _argument_of(document, error.nodes[-1] if error.nodes else None)
        name = argument[0] if argument else "?"
        message = message.replace("{argument}", name)
        extensions = {**(extensions or {}), "argumentName": name}
    body: Json = {"locations": _locations(error), "message": message}
    if extensions:
        body["extensions"] = extensions
    return body


def _argument_of(document: DocumentNode, target: Node | None) -> tuple[str, str, str] | None:
    """(argument, field, printed value) for the argument whose value contains `target`."""
    if target is None:
        return None
    needle: Node = target
    found: list[tuple[str, str, str]] = []

    class Finder(Visitor):
        def __init__(self) -> None:
            super().__init__()
            self.fields: list[str] = []

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            self.fields.append(node.name.value)

        def leave_field(self, node: FieldNode, *_: Any) -> None:
            self.fields.pop()

        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            loc, inner = node.value.loc, needle.loc
            if node.value is needle or (loc and inner and loc.start <= inner.start
                                        and inner.end <= loc.end):
                printed = loc.source.body[loc.start:loc.end] if loc else "?"
                found.append((node.name.value, self.fields[-1] if self.fields else "?",
                              printed))

    visit(document, Finder())
    return found[-1] if found else None


def _variable_error(operation: OperationDefinitionNode, variables: dict[str, Any],
                    error: GraphQLError) -> Json:
    match = re.search(r"Variable '\$(\w+)'", error.message)
    if match is None:
        return {"message": error.message, "locations": _locations(error)}
    name = match[1]
    kind = next((d.type for d in operation.variable_definitions or ()
                 if d.variable.name.value == name), None)
    type_name = print_ast(kind) if kind is not None else "?"
    explanation = re.sub(r"^Variable '\$\w+' (got invalid value .*?; )?", "", error.message)
    return {"extensions": {"value": variables.get(name),
                           "problems": [{"path": [], "explanation": explanation}]},
            "locations": _locations(error),
            "message": f"Variable ${name} of type {type_name} was provided invalid value"}
