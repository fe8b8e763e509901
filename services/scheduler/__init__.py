"""The scheduler: decides what is due and dispatches jobs; the control plane."""
