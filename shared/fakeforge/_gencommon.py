"""Vocabulary and helpers shared by the dataset generators: texts, time formatting, stable ids, people."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.fakeforge import _shapes as shapes
from shared.fakeforge.dataset import Json

_HUMANS = [
    "ada-lovelace", "grace-hopper", "linus-t", "margaret-h", "ken-thompson", "barbara-liskov",
    "dennis-r", "frances-allen", "alan-turing", "radia-perlman", "guido-vr", "matz-y",
    "sophie-wilson", "katherine-j", "edsger-d", "donald-knuth", "hedy-lamarr", "niklaus-w",
]
_LABELS = [
    ("bug", "d73a4a", "Something isn't working", True),
    ("enhancement", "a2eeef", "New feature or request", True),
    ("documentation", "0075ca", "Improvements or additions to documentation", True),
    ("good first issue", "7057ff", "Good for newcomers", True),
    ("help wanted", "008672", "Extra attention is needed", True),
    ("question", "d876e3", "Further information is requested", True),
    ("wontfix", "ffffff", "This will not be worked on", True),
    ("dependencies", "0366d6", "Pull requests that update a dependency file", False),
    ("🔥 priority: high", "b60205", None, False),
    ("área: ingestão", "c5def5", "Ingestão de dados (pt-BR)", False),
]
_SUBJECTS = [
    "the GitHub collector", "since-cursor handling", "the git log parser", "rate-limit waits",
    "日本語 file names", "the Ünïcödé author mapper", "PostgreSQL COPY batching", "the demo",
    "emoji in titles 🎉", "renamed repositories", "the CLI", "Link header parsing",
]
_ISSUE_TITLES = [
    "Crash in {s}", "{s} is slow on large repos", "Document {s}", "Support for {s}?",
    "Regression in {s} after upgrade", "{s}: wrong timestamps ⏰", "Question about {s}",
]
_PR_TITLES = ["Fix {s}", "Refactor {s}", "Add tests for {s}", "✨ Improve {s}", "WIP: {s}"]
_BODIES = [
    "Steps to reproduce:\n\n1. run `watershed collect`\n2. wait\n\nExpected: data. Actual: 💥",
    "I think this is related to #{n}.\r\n\r\n> quoted text with **markdown**",
    "Ça marche pas avec les caractères accentués — voir la trace :\n\n```\nTraceback…\n```",
    "Thanks! LGTM 👍",
    "<!-- hidden HTML comment -->\nSee https://example.com/path?q=1&r=2 for details.",
    "这是一个测试。Это тест. هذا اختبار.",
    "",
]
_BOT_COMMENT = ("Coverage report: 87.3% (+0.2%) ✅\n\n<details><summary>Details</summary>\n\n"
                "| file | % |\n|---|---|\n| a.py | 90 |\n</details>")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def _sha(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()


class _UniqueClock:
    """Hands out second-resolution timestamps never handed out before, so that sorting and
    `since` filtering over updated_at is unambiguous (the generator's promise to tests)."""

    def __init__(self, end: datetime) -> None:
        self._used: set[datetime] = set()
        self._end = end

    def take(self, moment: datetime) -> datetime:
        moment = min(moment.replace(microsecond=0), self._end)
        step = timedelta(seconds=1)
        candidate = moment
        while candidate in self._used and candidate < self._end:
            candidate += step
        while candidate in self._used:
            candidate -= step
        self._used.add(candidate)
        return candidate


@dataclass
class _People:
    humans: list[Json]
    dependabot: Json
    actions: Json
    ghost: Json
    org: Json


def _people(rng: random.Random, owner: str, n_users: int) -> _People:
    n_humans = max(1, n_users - 3)
    logins = rng.sample(_HUMANS, min(n_humans, len(_HUMANS)))
    logins += [f"contributor-{i}" for i in range(n_humans - len(logins))]
    ids = rng.sample(range(10_000, 90_000_000), len(logins))
    return _People(
        humans=[shapes.user_json(login, uid) for login, uid in zip(logins, ids, strict=True)],
        dependabot=shapes.user_json("dependabot[bot]", 49699333, kind="Bot"),
        actions=shapes.user_json("github-actions[bot]", 41898282, kind="Bot"),
        ghost=shapes.user_json("ghost", 10137),
        org=shapes.user_json(owner, 90_000_000 + rng.randrange(1_000_000), kind="Organization"),
    )
