"""The license ids the Hugging Face Hub accepts in a card's `license:` field, read once from a data file.

The list is data, not code: `hubkit/data/hub_licenses.txt`, one id per line, `#` comments (its header names the Hub
documentation page it was copied from). Update the file when the Hub adds a license.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

LICENSES_FILE = Path(__file__).resolve().parent.parent / "data" / "hub_licenses.txt"


def read_license_ids(path: Path) -> frozenset[str]:
    """The ids in a license list file: one per line, blank lines and `#` comments ignored."""
    ids = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            ids.add(line)
    return frozenset(ids)


@lru_cache(maxsize=1)
def hub_licenses() -> frozenset[str]:
    """The Hub's license ids (from hubkit/data/hub_licenses.txt)."""
    return read_license_ids(LICENSES_FILE)
