"""The library: the person's reading-log documents, found and read (documents), parsed (parser),
indexed by identity (matcher), imported into the store and checked against (api)."""
