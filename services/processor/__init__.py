"""The processor service: staged events in, relational rows out."""
