"""Small JSON files written atomically, and the Hub's timestamp format."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path


def now_iso() -> str:
    """The Hub's timestamp format (`parse_datetime` in huggingface_hub accepts exactly this)."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def write_json_atomic(path: Path, data: dict) -> None:
    """Write then rename: a reader sees the old file or the new one, never half of one."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
