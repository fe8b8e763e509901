"""contributor_id: Augur's GithubUUID layout, and wide ids that never collide with it."""

from __future__ import annotations

import uuid

import pytest

from shared.ids import contributor_id, split_contributor_id


@pytest.mark.parametrize(
    ("platform", "user_id", "expected"),
    [
        ("github", 1, "01000000-0100-0000-0000-000000000000"),
        ("github", 0, "01000000-0000-0000-0000-000000000000"),
        ("github", 583231, "010008e6-3f00-0000-0000-000000000000"),
        ("github", 2**32 - 1, "01ffffff-ff00-0000-0000-000000000000"),
        ("gitlab", 1, "02000000-0100-0000-0000-000000000000"),
        ("gitlab", 0x01020304, "02010203-0400-0000-0000-000000000000"),
    ],
)
def test_augur_layout(platform: str, user_id: int, expected: str) -> None:
    assert contributor_id(platform, user_id) == uuid.UUID(expected)


def test_layout_bytes() -> None:
    raw = contributor_id("github", 0xA1B2C3D4).bytes
    assert raw[0] == 1
    assert raw[1:5] == bytes([0xA1, 0xB2, 0xC3, 0xD4])
    assert raw[5:] == bytes(11)


def test_deterministic_and_distinct() -> None:
    assert contributor_id("github", 42) == contributor_id("github", 42)
    assert contributor_id("github", 42) != contributor_id("github", 43)
    assert contributor_id("github", 42) != contributor_id("gitlab", 42)


IDS = [0, 1, 255, 256, 2**24, 2**32 - 1, 2**32, 2**32 + 1, 2**40 + 7, 2**56 - 1]


@pytest.mark.parametrize("platform", ["github", "gitlab", "git"])
@pytest.mark.parametrize("user_id", IDS)
def test_round_trip(platform: str, user_id: int) -> None:
    assert split_contributor_id(contributor_id(platform, user_id)) == (platform, user_id)


def test_wide_ids_never_collide_with_narrow_ones() -> None:
    narrow = {contributor_id("github", i) for i in [*range(0, 4096), *range(2**32 - 4096, 2**32)]}
    # Wide ids whose low bytes look like narrow ones, and whose bytes 1-4 repeat narrow ids.
    wide = {contributor_id("github", i) for i in [2**32, 2**32 + 1, 2**32 + 4095, (1 << 23) << 32, 1 << 55, 2**56 - 1]}
    wide |= {contributor_id("github", n << 24) for n in range(1, 300) if n << 24 > 2**32 - 1}
    assert not narrow & wide
    assert all(c.bytes[15] == 1 for c in wide)
    assert all(c.bytes[15] == 0 for c in narrow)


@pytest.mark.parametrize(
    ("platform", "user_id", "message"),
    [
        ("github", -1, "negative"),
        ("github", 2**56, "too large"),
        ("github", 2**64, "too large"),
        ("bitbucket", 1, "unknown platform"),
        ("GitHub", 1, "unknown platform"),
    ],
)
def test_errors(platform: str, user_id: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        contributor_id(platform, user_id)


def test_split_refuses_unknown_platform_byte() -> None:
    with pytest.raises((ValueError, KeyError)):
        split_contributor_id(uuid.UUID("09000000-0100-0000-0000-000000000000"))


def test_accounts_of_another_server_never_share_an_id_with_the_public_ones() -> None:
    from shared.ids import identity_namespace

    assert identity_namespace("github", "github.com") == "github"
    assert identity_namespace("github", "GitHub.com") == "github"
    assert identity_namespace("gitlab", "gitlab.com") == "gitlab"
    assert identity_namespace("git", "git.example.org") == "git"
    ghe = identity_namespace("github", "GHE.example.com")
    assert ghe == "github@ghe.example.com"
    ids = {contributor_id(ns, 42) for ns in ("github", ghe, "github@other.example.com", "gitlab@gitlab.example.org")}
    assert len(ids) == 4
    assert contributor_id(ghe, 42) == contributor_id("github@ghe.example.com", 42)  # stable across deployments
    assert split_contributor_id(contributor_id(ghe, 42)) == ("github@", 42)
    assert split_contributor_id(contributor_id(ghe, 2**40)) == ("github@", 2**40)
    # Augur's layout is untouched for the public servers.
    assert contributor_id("github", 42).bytes[0] == 1 and contributor_id(ghe, 42).bytes[0] == 0x11
