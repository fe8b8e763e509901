"""The collector service: forge APIs in, ``evt.forge.*`` facts out."""
