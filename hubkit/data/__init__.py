"""Data files shipped inside hubkit (read with importlib.resources, so they work from a wheel or a zip)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def hub_license_ids() -> frozenset[str]:
    """The license identifiers the Hugging Face Hub accepts in a card's `license:` (hub_licenses.txt, source inside)."""
    text = resources.files(__package__).joinpath("hub_licenses.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
