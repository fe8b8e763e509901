"""Every GraphQL query the collector sends is valid against GitHub's published schema
(the copy the fake forge serves: shared/fakeforge/data/github-schema.graphql)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import graphql
import pytest
from graphql.validation import NoDeprecatedCustomRule

from shared.forge.github import queries

SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "fakeforge" / "data" / "github-schema.graphql"


@cache
def schema() -> graphql.GraphQLSchema:
    # GitHub's SDL declares a few fields twice; graphql-core 3.2 accepts it without SDL validation.
    return graphql.build_schema(SCHEMA.read_text(encoding="utf-8"), assume_valid_sdl=True)


@pytest.mark.parametrize("name", sorted(queries.ALL))
def test_query_is_valid_against_githubs_schema(name: str) -> None:
    # Deprecated fields are refused too: GitHub removes them (databaseId cannot hold 64-bit ids).
    rules = [*graphql.specified_rules, NoDeprecatedCustomRule]
    errors = graphql.validate(schema(), graphql.parse(queries.ALL[name]), rules)
    assert [e.message for e in errors] == []


def test_every_query_reports_its_cost() -> None:
    for text in queries.ALL.values():
        assert "rateLimit { cost" in text
