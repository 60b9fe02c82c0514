"""Golden files, reader-style: a fixed digest in (tests/golden/digest.json), the expected bytes beside it
(slack.json: the Slack messages as posted; log_section.md: the section appended to the markdown log).

Any change to rendering shows up here as a diff of the bytes a person would see. When the change is
intended, regenerate and review the diff before committing:

    BOT_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_golden.py
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.digest.render import DigestItem, footer_text, render_log_section, render_slack

GOLDEN = Path(__file__).parent / "golden"


def fixed_digest() -> tuple[date, list[DigestItem], str]:
    data = json.loads((GOLDEN / "digest.json").read_text(encoding="utf-8"))
    items = [DigestItem.from_json(raw) for raw in data["items"]]
    return date.fromisoformat(data["day"]), items, footer_text(data["stats"])


def slack_bytes() -> str:
    day, items, footer = fixed_digest()
    messages: list[dict[str, Any]] = render_slack(day, items, footer)
    return json.dumps(messages, indent=2, ensure_ascii=False) + "\n"


def log_section_bytes() -> str:
    day, items, _ = fixed_digest()
    return render_log_section(day, items)


@pytest.mark.parametrize(("name", "render"), [("slack.json", slack_bytes), ("log_section.md", log_section_bytes)])
def test_rendered_digest_matches_the_golden_file(name: str, render: Any) -> None:
    path = GOLDEN / name
    actual = render()
    if os.environ.get("BOT_REGENERATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8", newline="\n")
        pytest.skip(f"regenerated {path.name}; review the diff before committing")
    assert path.exists(), f"{path} is missing: run with BOT_REGENERATE_GOLDEN=1 to write it"
    assert actual == path.read_text(encoding="utf-8")
