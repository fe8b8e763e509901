"""Cleaning of untrusted text before it reaches PostgreSQL.

PostgreSQL text cannot hold NUL bytes, and asyncpg refuses strings with lone
surrogates (which JSON ``\\ud800`` escapes produce). Both become U+FFFD rather
than vanishing, so a reader can see that something was there.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def clean(text: str | None) -> str | None:
    if text is None:
        return None
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Round-trip through UTF-16 so each lone surrogate decodes to U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def clean_bytes(raw: bytes) -> str:
    """Decode bytes from git or the network: invalid UTF-8 becomes U+FFFD, NUL too."""
    text = raw.decode("utf-8", "replace")
    return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
