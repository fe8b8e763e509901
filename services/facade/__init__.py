"""The facade service: git remotes in, ``evt.git.*`` commit facts out."""
