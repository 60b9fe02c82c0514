"""Relevance: drop what the library already has (dedupe), rank the rest (score, from the parts it
combines: topics, taste, hn_titles, all over the words), then put every source on one scale (keep).
Pure: no I/O."""
