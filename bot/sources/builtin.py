"""The source kinds the bot ships, registered through the same `register_source` a kind from elsewhere
uses: importing this module registers them, in this order (the order the configuration lists them in).

Imported wherever kinds are looked up: by the feed list (every poll and `bot status` reads feeds
through it) and by the composition root (bot.app), before the configuration checks its feeds. A new
built-in kind is one module beside these and one line here.
"""

# The order of these lines is the order of registration: isort must leave it.
# isort: off
from bot.sources import hn  # noqa: F401
from bot.sources import arxiv  # noqa: F401
from bot.sources import rss  # noqa: F401
from bot.sources import hf_papers  # noqa: F401
