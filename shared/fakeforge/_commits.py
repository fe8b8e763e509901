"""GET /repos/{owner}/{name}/commits/{sha}: a commit of a repository's git history, with the
GitHub accounts its author and committer emails belong to (or null, as GitHub answers for
an address no account has verified).

The git side reads the bare copy the forge serves (server.py); everything here is pure.
An address belongs to an account when it is the account's noreply address
(``{id}+{login}@users.noreply.github.com``), the ``email`` of a user in the dataset, or one
a test registered in ``FakeForge.accounts``.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shared.fakeforge._shapes import API
from shared.fakeforge.dataset import Dataset, Json

_NOREPLY = re.compile(r"^(?P<id>\d+)\+(?P<login>[^@]+)@users\.noreply\.github\.com$", re.IGNORECASE)
_FORMAT = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"


@dataclass(frozen=True)
class RawCommit:
    sha: str
    parents: list[str]
    author: tuple[str, str, str]  # name, email, date
    committer: tuple[str, str, str]
    message: str


def read_commit(bare: Path, sha: str) -> RawCommit | None:
    """The commit ``sha`` (a full or abbreviated id) of the bare repository, None if absent."""
    done = subprocess.run(["git", "-C", str(bare), "show", "-s", f"--format={_FORMAT}", "--end-of-options",
                           f"{sha}^{{commit}}", "--"], capture_output=True, check=False)
    if done.returncode != 0:
        return None
    fields = done.stdout.decode("utf-8", "replace").split("\x00")
    return RawCommit(fields[0], fields[1].split(), (fields[2], fields[3], fields[4]), (fields[5], fields[6], fields[7]),
                     fields[8].rstrip("\n"))


def account_for(email: str, dataset: Dataset, accounts: dict[str, Json]) -> Json | None:
    wanted = email.strip().lower()
    if wanted in accounts:
        return accounts[wanted]
    users = dataset.distinct_users()
    if match := _NOREPLY.match(wanted):
        known = users.get(int(match["id"]))
        login = match["login"]
        return known or {"login": login, "id": int(match["id"]), "type": "Bot" if login.endswith("[bot]") else "User",
                         "url": f"{API}/users/{login}", "html_url": f"https://github.com/{login}"}
    return next((u for u in users.values() if (u.get("email") or "").lower() == wanted), None)


def commit_json(full_name: str, raw: RawCommit, dataset: Dataset, accounts: dict[str, Json]) -> Json:
    def person(who: tuple[str, str, str]) -> Json:
        return {"name": who[0], "email": who[1], "date": who[2]}

    url = f"{API}/repos/{full_name}/commits/{raw.sha}"
    return {
        "sha": raw.sha, "url": url, "html_url": f"https://github.com/{full_name}/commit/{raw.sha}",
        "commit": {"author": person(raw.author), "committer": person(raw.committer), "message": raw.message},
        "author": account_for(raw.author[1], dataset, accounts),
        "committer": account_for(raw.committer[1], dataset, accounts),
        "parents": [{"sha": p, "url": f"{API}/repos/{full_name}/commits/{p}"} for p in raw.parents],
    }
