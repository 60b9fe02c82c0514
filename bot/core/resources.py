"""What the tool ships: the templates, the default feeds folder (sources, OPML, topics) and the seeds
that `bot demo` uses as its library.

They are edited in the top-level `feeds/`, `templates/` and `seeds/` folders; the wheel maps those
folders into the package as `bot/_shipped/...` (pyproject's force-include), so an installed `bot`
(pip, pipx, a container) works from any folder. An editable install or a checkout on the path reads
the top-level folders themselves.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from bot.core.errors import ConfigError

SHIPPED = ("feeds", "templates", "seeds", "bot.toml.example")


def shipped(name: str) -> Path:
    """`name` (one of SHIPPED) as installed with the package, else the checkout's."""
    if name not in SHIPPED:
        raise ValueError(f"nothing called {name!r} is shipped")
    packaged = Path(str(files("bot").joinpath("_shipped", name)))
    if packaged.exists():
        return packaged
    checkout = Path(__file__).resolve().parents[2]  # bot/core/resources.py -> the checkout
    if (checkout / "pyproject.toml").is_file() and (checkout / name).exists():
        return checkout / name
    raise ConfigError(f"This installation of bot lacks its {name}; reinstall it "
                      "(pip install --force-reinstall research-digest-bot)")


def shipped_feeds() -> Path:
    return shipped("feeds")


def shipped_topics() -> Path:
    return shipped("feeds") / "topics.toml"


def shipped_templates() -> Path:
    return shipped("templates")


def shipped_seeds() -> Path:
    return shipped("seeds")


def shipped_example_config() -> Path:
    return shipped("bot.toml.example")


def demo_data() -> Path:
    return Path(str(files("bot").joinpath("demo_data")))
