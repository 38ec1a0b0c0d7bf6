"""dunflow: dunning as code. YAML policies → JSON Schema → compiled state machines → exactly-once runs."""

__version__ = "0.1.0"
