"""Shared fixtures. Tests that need ../shared/data skip with a reason where it is absent (a user's fresh clone).

Plain helpers (build_run, write_model_files, assert_one_line_error, tree_digest) are in tests/helpers.py, so the
benchmarks can use them too; the local-Hub fixtures (`local_hub`, `client_mode`, and the module-wide `hub` with its
`env` for the publishing tests) come from tests/localhub_helpers.py and are available to every test module without an
import.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .helpers import FIXTURES, REFERENCE_RECORD, ROOT, build_run
from .localhub_helpers import client_mode, env, hub, local_hub  # noqa: F401  (fixtures, shared by every test module)

SHARED_DATA = ROOT.parent / "shared" / "data"
__all__ = ["FIXTURES", "ROOT", "SHARED_DATA"]

# Nothing in the test suite may reach the real Hub.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout (it is in CI; a fresh clone has no shared data)")
    return SHARED_DATA


@pytest.fixture
def reference_run(tmp_path: Path) -> Path:
    """A run folder with the reference record and small model files beside it (no card yet)."""
    return build_run(tmp_path, REFERENCE_RECORD)
