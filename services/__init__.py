"""The six Watershed services; each runs alone with ``python -m services.<name>``."""
