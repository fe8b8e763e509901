"""GitHub's static GraphQL limits, computed from a validated query before it runs.

Pure: a parsed document, the schema and the coerced variables in, a QueryCost out.

- Every connection needs `first` or `last`, each within 1..100.
- Nodes: the sum over all connections of the product of first/last down the tree
  (GitHub's docs: 50 repositories + 50 x 10 issues = 550 nodes), at most 500,000.
- Cost: each connection needs as many requests as it has possible parents (the product of
  the first/last values above it; 1 at the top), summed, divided by 100, rounded, at least 1
  (docs: 1 + 100 + 100 x 50 = 5,101 requests -> 51 points).

`nodes(ids: [...])` is not a connection, but it fans out the same way: it multiplies what
lies under it by the number of ids and counts them as nodes. GitHub does not document this
case; charging per id keeps a 50-id batch as dear as 50 aliased `pullRequest` fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import get_argument_values
from graphql.type.definition import GraphQLInterfaceType, GraphQLObjectType

MAX_NODES = 500_000
MAX_PAGE = 100


@dataclass(frozen=True)
class LimitError:
    type: str  # GitHub's error type: MISSING_PAGINATION_BOUNDARIES, EXCESSIVE_PAGINATION, ...
    message: str
    path: list[str]
    line: int
    column: int


@dataclass
class QueryCost:
    nodes: int = 0
    requests: int = 0
    errors: list[LimitError] = field(default_factory=list)

    @property
    def points(self) -> int:
        # Half rounds up (GitHub rounds; Python's round() would round half to even).
        return max(1, int(self.requests / 100 + 0.5))


def query_cost(schema: GraphQLSchema, operation: OperationDefinitionNode,
               fragments: dict[str, FragmentDefinitionNode],
               variables: dict[str, Any]) -> QueryCost:
    cost = QueryCost()
    root = schema.get_root_type(operation.operation)
    if root is not None:
        _walk(schema, operation.selection_set, root, 1, [], fragments, variables, cost, set())
    return cost


def _walk(schema: GraphQLSchema, selections: SelectionSetNode, parent: Any, multiplier: int,
          path: list[str], fragments: dict[str, FragmentDefinitionNode],
          variables: dict[str, Any], cost: QueryCost, seen: set[str]) -> None:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            _field(schema, selection, parent, multiplier, path, fragments, variables, cost, seen)
        elif isinstance(selection, InlineFragmentNode):
            condition = (schema.get_type(selection.type_condition.name.value)
                         if selection.type_condition else parent)
            _walk(schema, selection.selection_set, condition, multiplier, path, fragments,
                  variables, cost, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue
            _walk(schema, fragment.selection_set,
                  schema.get_type(fragment.type_condition.name.value), multiplier, path,
                  fragments, variables, cost, seen | {name})


def _field(schema: GraphQLSchema, node: FieldNode, parent: Any, multiplier: int,
           path: list[str], fragments: dict[str, FragmentDefinitionNode],
           variables: dict[str, Any], cost: QueryCost, seen: set[str]) -> None:
    if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
        return
    definition = parent.fields.get(node.name.value)
    if definition is None or node.selection_set is None:
        return
    name = node.name.value
    here = [*path, (node.alias.value if node.alias else name)]
    args = get_argument_values(definition, node, variables)
    named = get_named_type(definition.type)
    below = multiplier
    if named.name.endswith("Connection") and "first" in definition.args:
        size = _page_size(node, name, args, here, cost)
        cost.requests += multiplier
        below = multiplier * size
        cost.nodes += below
        if cost.nodes > MAX_NODES and not any(e.type == "MAX_NODE_LIMIT_EXCEEDED"
                                              for e in cost.errors):
            cost.errors.append(_error(
                "MAX_NODE_LIMIT_EXCEEDED", node, here,
                f"By the time this query traverses to the {name} connection, it is requesting "
                f"up to {cost.nodes:,} possible nodes which exceeds the maximum limit of "
                f"{MAX_NODES:,}."))
    elif name == "nodes" and isinstance(args.get("ids"), list):
        below = multiplier * max(1, len(args["ids"]))
        cost.nodes += multiplier * len(args["ids"])
    _walk(schema, node.selection_set, named, below, here, fragments, variables, cost, seen)


def _page_size(node: FieldNode, name: str, args: dict[str, Any], path: list[str],
               cost: QueryCost) -> int:
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        cost.errors.append(_error(
            "MISSING_PAGINATION_BOUNDARIES", node, path,
            f"You must provide a `first` or `last` value to properly paginate the `{name}` "
            "connection."))
        return 1
    size = 0
    for arg, value in (("first", first), ("last", last)):
        if value is None:
            continue
        if value < 0 or value > MAX_PAGE:
            cost.errors.append(_error(
                "EXCESSIVE_PAGINATION", node, path,
                f"Requesting {value} records on the `{name}` connection exceeds the `{arg}` "
                f"limit of {MAX_PAGE} records."))
        size = max(size, value)
    return max(size, 1)


def _error(kind: str, node: FieldNode, path: list[str], message: str) -> LimitError:
    loc = node.loc
    line, column = (loc.source.get_location(loc.start).line,
                    loc.source.get_location(loc.start).column) if loc else (0, 0)
    return LimitError(kind, message, path, line, column)
