"""Edges: database, templates, files. Everything with I/O lives here."""
