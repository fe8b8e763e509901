"""Decoding forge JSON into wire structs, tolerating what strict parsers refuse.

GitHub serves bodies with lone UTF-16 surrogate escapes (``\\ud83d`` from a cut
emoji). msgspec refuses them, so such a body takes the slow path: the stdlib
parser accepts it, every string is cleaned, and the result is converted to the
same types. Only a body neither parser reads is treated as truncated.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import msgspec

from shared.text import clean

T = TypeVar("T")


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    if isinstance(value, dict):
        return {clean(k): _cleaned(v) for k, v in value.items()}
    return value


def decode_lenient(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    """Like ``decoder.decode``; raises msgspec.DecodeError only for bodies that are not JSON at all."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError:
        raise
    except msgspec.DecodeError:
        try:
            loose = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise msgspec.DecodeError("body is not valid JSON") from None
    return msgspec.convert(_cleaned(loose), decoder.type)
