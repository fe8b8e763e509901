"""The ``watershed`` command line: the embedded stack, one-shot collection, status and the demo."""
