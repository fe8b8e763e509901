"""The resolver's pure core: noreply addresses, what is known, what is left to ask."""

from __future__ import annotations

from datetime import UTC, datetime

from services.resolver.identities import Email, Known, looked_up, noreply, plan
from shared.events import v1
from shared.ids import alias_namespace

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ADA = v1.User(platform_id=62706181, login="ada-lovelace")


def test_noreply_forms_of_one_host_only() -> None:
    assert noreply("12345+grace-hopper@users.noreply.github.com", "github.com") == (12345, "grace-hopper")
    assert noreply("49699333+dependabot[bot]@users.noreply.github.com", "github.com") == (49699333, "dependabot[bot]")
    assert noreply("grace-hopper@users.noreply.github.com", "github.com") == (None, "grace-hopper")
    assert noreply("7+dev@users.noreply.ghe.example.com", "ghe.example.com") == (7, "dev")
    # Another server's noreply address names another server's account.
    assert noreply("7+dev@users.noreply.ghe.example.com", "github.com") is None
    assert noreply("ada@example.org", "github.com") is None
    assert noreply("noreply@github.com", "github.com") is None


def test_plan_uses_what_is_known_and_leaves_the_rest_to_ask() -> None:
    emails = [Email("12345+grace-hopper@users.noreply.github.com", "a1", "author"),
              Email("49699333+dependabot[bot]@users.noreply.github.com", "a2", "author"),
              Email("old-style@users.noreply.github.com", "a3", "committer"),
              Email("ada@example.org", "a4", "author"),
              Email("zoe@example.com", "a5", "author")]
    known = {"ada@example.org": Known(ADA, "pr_commit")}
    logins = {"old-style": v1.User(platform_id=9, login="Old-Style")}
    found, left = plan(emails, known, logins, namespace="github", host="github.com", now=NOW)
    by_email = {a.email: a for a in found}
    assert left == [emails[4]]
    grace = by_email["12345+grace-hopper@users.noreply.github.com"]
    assert (grace.user, grace.source) == (v1.User(platform_id=12345, login="grace-hopper"), "noreply")
    assert by_email["49699333+dependabot[bot]@users.noreply.github.com"].user.kind == "Bot"  # type: ignore[union-attr]
    assert by_email["old-style@users.noreply.github.com"].user.platform_id == 9  # type: ignore[union-attr]
    assert (by_email["ada@example.org"].user, by_email["ada@example.org"].source) == (ADA, "pr_commit")
    assert {a.namespace for a in found} == {"github"} and {a.checked_at for a in found} == {NOW}


def test_an_unknown_old_style_noreply_login_is_left_to_ask() -> None:
    found, left = plan([Email("nobody@users.noreply.github.com", "s", "author")], {}, {}, namespace="github",
                       host="github.com", now=NOW)
    assert found == [] and len(left) == 1


def test_a_lookup_takes_the_account_of_the_role_the_address_had() -> None:
    committer = v1.User(platform_id=19864447, login="web-flow")
    as_author = looked_up(Email("ada@example.org", "s", "author"), (ADA, committer), namespace="github", now=NOW)
    as_committer = looked_up(Email("noreply@github.com", "s", "committer"), (ADA, committer), namespace="github", now=NOW)
    assert (as_author.user, as_author.source) == (ADA, "commit_lookup")
    assert (as_committer.user, as_committer.source) == (committer, "commit_lookup")
    unknown = looked_up(Email("zoe@example.com", "s", "author"), (None, committer), namespace="github", now=NOW)
    gone = looked_up(Email("zoe@example.com", "s", "author"), None, namespace="github", now=NOW)
    assert (unknown.user, unknown.source) == (None, "none") and (gone.user, gone.source) == (None, "none")


def test_alias_namespaces() -> None:
    assert alias_namespace("github", "github.com") == "github"
    assert alias_namespace("git", "git.example.org") == "github"  # plain git: github.com accounts
    assert alias_namespace("github", "ghe.example.com") == "github@ghe.example.com"
