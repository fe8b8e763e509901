"""Code shared by every Watershed service: settings, logging, metrics, ids, text, the wire contract."""
