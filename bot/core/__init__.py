"""The small core every stage shares: records, identity, errors, the clock, settings and shipped resources,
and the delivery ledger's records (ledger) and target interface (targets).

Nothing here does I/O through an SDK; the stages above import it, it imports none of them."""
