"""What a Hacker News title says besides its subject. Pure: only processes data.

A year in brackets at the end marks an old work posted again ("A Note on Distributed Computing (1994)
[pdf]"): it is as old as that year, however new the post. A company with its YC batch and a role is a
job ad ("Acme (YC S18) Is Hiring Engineers"), which the front page carries between stories: nothing to
read.
"""

from __future__ import annotations

import re

_YEAR_TAG_RE = re.compile(r"\((19\d\d|20\d\d)\)(?=(?:\s*\[[^\]]*\]?)*\s*$)")
_YC_BATCH_RE = re.compile(r"\(YC (?:[A-Z]\d\d|nonprofit)\)", re.IGNORECASE)
_JOB_WORDS_RE = re.compile(r"\b(?:hiring|looking for|engineers?|developers?|dev|founding|join)\b", re.IGNORECASE)
_HN_POST_RE = re.compile(r"^(?:launch|show|ask|tell) hn\b", re.IGNORECASE)


def work_year(title: str) -> int | None:
    """The year an HN title says the work is from, if it says."""
    m = _YEAR_TAG_RE.search(title)
    return int(m.group(1)) if m else None


def is_job_ad(title: str) -> bool:
    return bool(_YC_BATCH_RE.search(title) and _JOB_WORDS_RE.search(title) and not _HN_POST_RE.match(title))
