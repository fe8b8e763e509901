"""Query-parameter parsing and GitHub-style pagination (pure functions)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import urlencode

T = TypeVar("T")
QueryPairs = list[tuple[str, str]]

DEFAULT_PER_PAGE = 30


class InvalidParam(ValueError):
    """A query parameter GitHub would answer with 422 Validation Failed."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"invalid {field}: {value!r}")
        self.field = field
        self.value = value


def param(query: QueryPairs, name: str) -> str | None:
    # GitHub (Rails) keeps the last occurrence of a repeated scalar parameter.
    found = [value for key, value in query if key == name]
    return found[-1] if found else None


def choice(query: QueryPairs, name: str, allowed: Sequence[str], default: str) -> str:
    value = param(query, name)
    if value is None or value == "":
        return default
    if value not in allowed:
        raise InvalidParam(name, value)
    return value


def parse_since(query: QueryPairs) -> datetime | None:
    value = param(query, "since")
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise InvalidParam("since", value) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def page_params(query: QueryPairs, page_size_max: int) -> tuple[int, int]:
    """(per_page, page) with GitHub's leniency: junk or out-of-range values fall back to
    defaults or are clamped instead of failing."""
    def as_int(name: str) -> int | None:
        value = param(query, name)
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    per_page = as_int("per_page")
    if per_page is None or per_page < 1:
        per_page = DEFAULT_PER_PAGE
    page = as_int("page")
    return min(per_page, page_size_max), page if page is not None and page >= 1 else 1


def paginate(items: Sequence[T], per_page: int, page: int) -> tuple[list[T], int]:
    """The items of one page and the number of the last page (at least 1)."""
    last = max(1, math.ceil(len(items) / per_page))
    start = (page - 1) * per_page
    return list(items[start:start + per_page]), last


def link_header(url_base: str, query: QueryPairs, page: int, last: int) -> str | None:
    """GitHub's Link header: rel order prev, next, last, first (as recorded in the octokit
    fixtures), the original query kept in place with only `page` changed or appended."""
    def url(target: int) -> str:
        pairs = [(key, value) for key, value in query if key != "page"]
        position = next((i for i, (key, _) in enumerate(query) if key == "page"), len(pairs))
        pairs.insert(min(position, len(pairs)), ("page", str(target)))
        return f"{url_base}?{urlencode(pairs)}"

    links: list[str] = []
    if page > 1:
        links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
    if page < last:
        links.append(f'<{url(page + 1)}>; rel="next"')
        links.append(f'<{url(last)}>; rel="last"')
    if page > 1:
        links.append(f'<{url(1)}>; rel="first"')
    return ", ".join(links) or None
