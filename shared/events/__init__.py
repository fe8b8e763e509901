"""The wire contract: subjects, streams and the v1 message structs."""

from shared.events import subjects, v1

__all__ = ["subjects", "v1"]
