"""The one type every credential is kept in, so that it cannot show itself by accident."""

from __future__ import annotations


class Secret(str):
    """A string that never shows itself in repr, logs or tracebacks."""

    def __repr__(self) -> str:
        return "Secret('***')"

    def reveal(self) -> str:
        return str.__str__(self)
