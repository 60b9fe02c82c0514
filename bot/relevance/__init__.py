"""Relevance: drop what the library already has (dedupe), rank the rest (score). Pure: no I/O."""
