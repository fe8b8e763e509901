"""clean / clean_bytes: whatever comes in, PostgreSQL can store what goes out."""

from __future__ import annotations

import random

import pytest

from shared.text import REPLACEMENT, clean, clean_bytes

R = REPLACEMENT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", "plain"),
        ("", ""),
        ("a\x00b", f"a{R}b"),
        ("\x00\x00", R * 2),
        ("cut \ud83d emoji", f"cut {R} emoji"),  # lone high
        ("x\udc00y", f"x{R}y"),  # lone low
        ("\udc00\ud800", R * 2),  # reversed pair
        ("end\ud83d", f"end{R}"),
        ("\ud83d\ude00", "\U0001f600"),  # a pair of code points is the emoji it encodes
        ("\U0001f600 ok", "\U0001f600 ok"),
        ("\ud83d\ude00\ud83d", f"\U0001f600{R}"),
        ("\x00\ud800", R * 2),
        ("café — 日本語", "café — 日本語"),
        (R, R),
    ],
)
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw) == expected


def test_none_passes_through() -> None:
    assert clean(None) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"plain", "plain"),
        (b"a\x00b", f"a{R}b"),
        (b"\xff\xfeab", f"{R}{R}ab"),
        (b"caf\xc3", f"caf{R}"),  # truncated sequence
        (b"\xed\xa0\x80", R * 3),  # an encoded surrogate is invalid UTF-8
        ("café".encode(), "café"),
    ],
)
def test_clean_bytes(raw: bytes, expected: str) -> None:
    assert clean_bytes(raw) == expected


def _storable(text: str) -> bool:
    text.encode("utf-8")  # raises on any surrogate left
    return "\x00" not in text


def test_any_text_becomes_storable() -> None:
    rng = random.Random(20240611)
    alphabet = ["\x00", "a", " ", "é", "\ud800", "\udbff", "\udc00", "\udfff", "\ud83d", "\ude00", "\U0001f600", R]
    for _ in range(5000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        cleaned = clean(raw)
        assert cleaned is not None and _storable(cleaned), repr(raw)
        assert len(cleaned) <= len(raw)  # nothing is added, at most pairs merge
        assert clean(cleaned) == cleaned  # idempotent


def test_any_bytes_become_storable() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 16)))
        cleaned = clean_bytes(raw)
        assert _storable(cleaned), raw
        assert clean(cleaned) == cleaned
