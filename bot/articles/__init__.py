"""Reading the page an item links to (issue 28): for the items a digest is about to show that have no
text of their own, the linked page's main text (an HTML article, a GitHub repository's README, an
arXiv paper's abstract), fetched once per URL through the hardened HTTP client, within one deadline
and page bound per digest, and cached in the store. Its text feeds the summaries; not the ranking.

links: what kind of link an item has (pure); extract: main text out of HTML (the one module that
imports trafilatura); reader: the fetching, budgets and cache."""
