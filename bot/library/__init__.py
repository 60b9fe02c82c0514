"""The library: the person's reading-log documents, parsed (parser), indexed by identity (matcher), imported
into the store and checked against (api)."""
