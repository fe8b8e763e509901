"""The analysis service (its phase's work arrives in a later version; see app.py)."""
