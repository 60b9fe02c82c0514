"""The store: one SQLite database (database) and the delivery ledger of digests (deliveries)."""
