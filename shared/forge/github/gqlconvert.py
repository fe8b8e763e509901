"""GitHub GraphQL shapes → v1 facts. Pure: structs in, structs out."""

from __future__ import annotations

import re
from collections.abc import Iterable

from shared.events.v1 import PrCommit, PrFile, PullRequestDetail, Review, Team, User
from shared.forge.github.convert import GHOST_LOGIN
from shared.forge.github.gqlwire import GqlActor, GqlCommit, GqlFile, GqlGitActor, GqlPull, GqlReview

# GraphQL names what REST calls a file's status in capitals, and "removed" DELETED.
_FILE_STATUS = {"DELETED": "removed"}
_BOT_SUFFIX = "[bot]"
# GitHub's noreply address, ``{id}+{login}@users.noreply.github.com`` (``users.noreply.<host>`` on
# an Enterprise server); an app's login ends in [bot].
_NOREPLY_BOT = re.compile(r"^(\d+)\+(.+\[bot\])@users\.noreply\.[a-z0-9.-]+$", re.IGNORECASE)


def gql_user(actor: GqlActor | None) -> User | None:
    """A platform account; None for a null author or an actor without a database id (deleted)."""
    if actor is None or actor.database_id is None:
        return None
    kind = actor.typename or "User"
    login = actor.login
    if kind == "Bot" and not login.endswith(_BOT_SUFFIX):
        login += _BOT_SUFFIX  # REST's spelling, so both APIs name an app the same way
    if login == GHOST_LOGIN:
        kind = "Ghost"
    return User(platform_id=actor.database_id, login=login, node_id=actor.id or "", kind=kind,
                avatar_url=actor.avatar_url or "", html_url=actor.url or "")


def big_int(value: str | int | None) -> int | None:
    """A GraphQL BigInt (sent as a string, as it may exceed 32 bits)."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def convert_reviews(number: int, nodes: Iterable[GqlReview | None]) -> list[Review]:
    return [
        Review(
            platform_id=big_int(r.full_database_id),  # type: ignore[arg-type]
            pr_number=number,
            state=r.state,
            node_id=r.id or "",
            author=gql_user(r.author),
            author_association=r.author_association,
            body=r.body,
            commit_sha=r.commit.oid if r.commit else None,
            html_url=r.url or "",
            submitted_at=r.submitted_at,
        )
        for r in nodes
        if r is not None and big_int(r.full_database_id) is not None
    ]


def git_user(who: GqlGitActor | None) -> User | None:
    """The account behind a commit's author or committer. ``GitActor.user`` is typed ``User``,
    so an app shows up as a user named without ``[bot]``; its noreply address tells the truth."""
    if who is None:
        return None
    user = gql_user(who.user)
    bot = _NOREPLY_BOT.match(who.email or "")
    if user is not None and bot is not None and int(bot[1]) == user.platform_id:
        return User(platform_id=user.platform_id, login=bot[2], node_id=user.node_id, kind="Bot",
                    avatar_url=user.avatar_url, html_url=user.html_url)
    return user


def _commit(number: int, c: GqlCommit) -> PrCommit:
    author, committer = c.author, c.committer
    return PrCommit(
        pr_number=number,
        sha=c.oid,
        message=c.message,
        author_name=(author.name or "") if author else "",
        author_email=(author.email or "") if author else "",
        author_date=author.date if author else None,
        committer_name=(committer.name or "") if committer else "",
        committer_email=(committer.email or "") if committer else "",
        committer_date=committer.date if committer else None,
        author=git_user(author),
        committer=git_user(committer),
        additions=c.additions,
        deletions=c.deletions,
    )


def convert_commits(number: int, nodes: Iterable[object]) -> list[PrCommit]:
    return [_commit(number, n.commit) for n in nodes if n is not None]  # type: ignore[attr-defined]


def convert_files(number: int, nodes: Iterable[GqlFile | None]) -> list[PrFile]:
    return [
        PrFile(
            pr_number=number,
            path=f.path,
            status=_FILE_STATUS.get(f.change_type or "", (f.change_type or "").lower() or None),
            additions=f.additions,
            deletions=f.deletions,
        )
        for f in nodes
        if f is not None
    ]


def convert_detail(pull: GqlPull) -> PullRequestDetail:
    teams = []
    for request in pull.review_requests.nodes if pull.review_requests else ():
        who = request.requested_reviewer if request else None
        if who is not None and who.typename == "Team" and who.database_id is not None:
            teams.append(Team(platform_id=who.database_id, slug=who.slug or "", name=who.name or ""))
    return PullRequestDetail(
        number=pull.number or 0,
        platform_id=big_int(pull.full_database_id),
        merged_by=gql_user(pull.merged_by),
        merge_state=pull.merge_state_status,
        mergeable=pull.mergeable,
        requested_teams=teams,
        reviews_total=pull.reviews.total_count if pull.reviews else None,
        commits_total=pull.commits.total_count if pull.commits else None,
        files_total=pull.files.total_count if pull.files else None,
    )
