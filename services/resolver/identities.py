"""Which account a commit email belongs to, from what is already known: pure.

In order of certainty:

1. a noreply address names its account: ``{id}+{login}@users.noreply.{host}`` outright, the
   older ``{login}@users.noreply.{host}`` by login (matched to a known account);
2. an address GitHub attributed to an account on a pull request commit, or that an account
   shows as its public email (``known``);
3. the rest is asked of the forge, one commit per address (``lookups``), when it can be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from shared.events import v1

_NOREPLY = re.compile(r"^(?:(?P<id>\d+)\+)?(?P<login>[^@+\s]+)@users\.noreply\.(?P<host>[^@\s]+)$")


@dataclass(frozen=True)
class Email:
    """An unresolved address of a repository's history, and one commit that carries it."""

    address: str  # lower-cased
    sha: str
    role: str  # "author" | "committer": which account of that commit it is


@dataclass(frozen=True)
class Known:
    user: v1.User
    source: str  # pr_commit | public_email | noreply


def noreply(address: str, host: str) -> tuple[int | None, str] | None:
    """(user id or None for the older form, login) of a noreply address of ``host``."""
    match = _NOREPLY.match(address)
    if match is None or match["host"] != f"{host}".lower():
        return None
    return (int(match["id"]) if match["id"] else None), match["login"]


def kind_of(login: str) -> str:
    return "Bot" if login.endswith("[bot]") else "User"


def plan(emails: list[Email], known: dict[str, Known], logins: dict[str, v1.User], *, namespace: str,
         host: str, now: datetime) -> tuple[list[v1.Alias], list[Email]]:
    """Aliases found without asking anybody, and the emails left to look up.

    ``known``: address -> account (PR commits, public emails); ``logins``: lower-cased login ->
    account, for the older noreply form.
    """
    found: list[v1.Alias] = []
    left: list[Email] = []
    for email in emails:
        named = noreply(email.address, host)
        if named is not None and named[0] is not None:
            user = v1.User(platform_id=named[0], login=named[1], kind=kind_of(named[1]))
            found.append(v1.Alias(email=email.address, namespace=namespace, user=user, source="noreply",
                                  checked_at=now))
        elif named is not None and named[1].lower() in logins:
            found.append(v1.Alias(email=email.address, namespace=namespace, user=logins[named[1].lower()],
                                  source="noreply", checked_at=now))
        elif email.address in known:
            hit = known[email.address]
            found.append(v1.Alias(email=email.address, namespace=namespace, user=hit.user, source=hit.source,
                                  checked_at=now))
        else:
            left.append(email)
    return found, left


def looked_up(email: Email, accounts: tuple[v1.User | None, v1.User | None] | None, *, namespace: str,
              now: datetime) -> v1.Alias:
    """The alias a commit lookup gives (None: the commit is gone; the address stays unknown)."""
    user = None if accounts is None else accounts[0 if email.role == "author" else 1]
    return v1.Alias(email=email.address, namespace=namespace, user=user,
                    source="commit_lookup" if user is not None else "none", checked_at=now)
