"""The store: one SQLite database and the only place that speaks SQL. `database.Store` is its parts
together, one mixin per table over `base.StoreBase`: items, identities, library, sources and the
delivery ledger (deliveries); `connection` opens it and `schema` migrates it."""
