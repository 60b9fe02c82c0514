"""Sources: one module per source kind (hn, arxiv, rss, hf_papers), registered by name in the registry
(builtin registers the shipped ones); what every kind shares (kinds, outcome, answer); the HTTP
adapter (fetch), the feed parsers, the feed list, and HN discussion lookups."""
