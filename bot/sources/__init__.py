"""Sources: the HTTP adapter (fetch), the feed parsers, what to ask each kind of source and how to page
through it (kinds), the feed list, and HN discussion lookups."""
