"""Email domain -> organisation: the mapping files, and which organisation an address belongs to.

Pure: parses the text of a mappings file and answers for an email address and a date.
:mod:`shared.settings` reads the file named by ``WATERSHED_AFFILIATIONS_FILE``; the shipped
defaults are package data (``shared/data/affiliations.csv``). Both have the same format, one
mapping a line, ``#`` comments and blank lines skipped, an optional ``domain,...`` header::

    domain,organization[,since]
    redhat.com,Red Hat
    gmail.com,                           <- empty organisation: no organisation (public mail)
    example.com,Example Labs,2021-04-01  <- for commits from 2021-04-01 (UTC) on

Matching: the address's domain (after the last ``@``, ASCII letters lower-cased, a trailing
dot dropped) and then each parent domain are looked up, longest first, so
``mail.corp.redhat.com`` finds ``redhat.com``. Of one domain's mappings, those whose ``since``
is on or before the date apply and the newest of them wins; a domain with none applicable
(every ``since`` later than the date) falls through to its parent. A contributor has no
date: the newest mapping of the longest matching domain is their current organisation.

A user file replaces every default line of each domain it names (to keep a default's
earlier organisation next to a new dated one, repeat it).

The processor repeats the matching in SQL to re-apply changed mappings to stored rows
(``services/processor/affiliations.py``); the two must agree, so the rules above are
deliberately plain (ASCII lower-casing, no locale).
"""

from __future__ import annotations

import csv
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources

DEFAULT = "default"
USER = "user"

_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_ORG = 200
# Dates before git existed cannot mean anything, and a since of date.min would blur "no
# date" (commits whose date git could not read) with "since the beginning".
_EARLIEST = date(1970, 1, 1)
_CACHE_LIMIT = 100_000


class AffiliationsError(ValueError):
    """A malformed mappings line; the message starts with ``line N:``."""


@dataclass(frozen=True, order=True)
class Mapping:
    domain: str
    since: date | None  # None: regardless of date
    organization: str | None  # None: no organisation (public mail providers)
    source: str = DEFAULT  # "default" (shipped) or "user" (WATERSHED_AFFILIATIONS_FILE)

    def key(self) -> tuple[str, date]:
        return self.domain, self.since or date.min


def email_domain(email: str | None) -> str | None:
    """The domain an address is matched by; None without an ``@`` or a domain."""
    if not email or "@" not in email:
        return None
    domain = email.rpartition("@")[2].translate(_LOWER).strip(" ").rstrip(".")
    return domain or None


def parse_mappings(text: str, source: str = USER) -> tuple[Mapping, ...]:
    """Every mapping of a file's text, in file order; raises :class:`AffiliationsError`."""
    found: dict[tuple[str, date], tuple[int, Mapping]] = {}
    header_allowed = True
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([stripped], skipinitialspace=True))]
        if header_allowed and fields and fields[0].lower() == "domain":
            header_allowed = False
            continue
        header_allowed = False
        mapping = _mapping(number, fields, source)
        if (earlier := found.get(mapping.key())) is not None:
            when = f" since {mapping.since}" if mapping.since else ""
            raise AffiliationsError(f"line {number}: {mapping.domain}{when} is already mapped on line {earlier[0]}")
        found[mapping.key()] = (number, mapping)
    return tuple(m for _, m in found.values())


def _mapping(number: int, fields: list[str], source: str) -> Mapping:
    if len(fields) == 3 and not fields[2]:
        fields = fields[:2]
    if len(fields) not in (2, 3):
        raise AffiliationsError(f"line {number}: expected domain,organization[,since], got {len(fields)} fields")
    raw = fields[0]
    if "@" in raw:
        raise AffiliationsError(f"line {number}: {raw[:80]!r} is an email address; give its domain")
    if not raw.isascii():
        raise AffiliationsError(f"line {number}: {raw[:80]!r} is not ASCII; give the domain in its xn-- form")
    domain = raw.lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise AffiliationsError(f"line {number}: {raw[:80]!r} is not a domain name")
    organization = fields[1] or None
    if organization is not None and (len(organization) > _MAX_ORG or _CONTROL.search(organization)):
        raise AffiliationsError(f"line {number}: the organisation must be at most {_MAX_ORG} printable characters")
    since = None
    if len(fields) == 3:
        since = _day(number, fields[2])
    return Mapping(domain, since, organization, source)


def _day(number: int, raw: str) -> date:
    try:
        if not _DAY.match(raw):
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        raise AffiliationsError(f"line {number}: since must be a date like 2021-04-01, got {raw[:40]!r}") from None
    if day < _EARLIEST:
        raise AffiliationsError(f"line {number}: since must be {_EARLIEST} or later, got {raw}")
    return day


def default_mappings() -> tuple[Mapping, ...]:
    """The shipped list (package data)."""
    text = resources.files("shared").joinpath("data", "affiliations.csv").read_text(encoding="utf-8")
    return parse_mappings(text, DEFAULT)


def merge(defaults: Iterable[Mapping], user: Iterable[Mapping]) -> tuple[Mapping, ...]:
    """The effective mappings: a domain the user names loses all its default lines."""
    user = tuple(user)
    named = {m.domain for m in user}
    return tuple(sorted([*(m for m in defaults if m.domain not in named), *user], key=Mapping.key))


class Matcher:
    """Answers, for an address, the organisation of the effective mappings."""

    def __init__(self, mappings: Iterable[Mapping]) -> None:
        by_domain: dict[str, list[tuple[date, str | None]]] = {}
        for m in mappings:
            by_domain.setdefault(m.domain, []).append((m.since or date.min, m.organization))
        # Newest first inside a domain: the first applicable one wins.
        self._by_domain = {d: sorted(c, key=lambda c: c[0], reverse=True) for d, c in by_domain.items()}
        self._cache: dict[str, tuple[tuple[date, str | None], ...]] = {}

    def _candidates(self, domain: str) -> tuple[tuple[date, str | None], ...]:
        found = self._cache.get(domain)
        if found is None:
            labels = domain.split(".")
            found = tuple(c for i in range(len(labels)) for c in self._by_domain.get(".".join(labels[i:]), ()))
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[domain] = found
        return found

    def at(self, email: str | None, moment: datetime | None) -> str | None:
        """The organisation of a commit's address on its date (UTC); without a date only the
        undated mappings apply."""
        domain = email_domain(email)
        if domain is None:
            return None
        if moment is None:
            day = date.min
        else:
            day = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()
        for since, organization in self._candidates(domain):
            if since <= day:
                return organization
        return None

    def current(self, email: str | None) -> str | None:
        """A contributor's organisation: the newest mapping of the longest matching domain."""
        domain = email_domain(email)
        if domain is None:
            return None
        candidates = self._candidates(domain)
        return candidates[0][1] if candidates else None
