"""Helpers shared by the tests and the benchmarks (plain functions: no pytest import, so bench/ can use them).

Fixtures built on them live in tests/conftest.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
GOLDEN = ROOT / "tests" / "golden"
REFERENCE_RECORD = FIXTURES / "reference_record.json"
SMALL_RECORD = FIXTURES / "small_record.json"
TINY_CONFIG = ROOT / "pipeline" / "tiny.yaml"


def write_model_files(folder: Path, architecture: str = "DistilBertForQuestionAnswering") -> Path:
    """What a merged transformers model folder holds, minus the size: config.json + a real safetensors file."""
    import numpy as np
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"architectures": [architecture], "model_type": "distilbert"}))
    save_file({"qa_outputs.weight": np.zeros((2, 4), dtype=np.float32)}, str(folder / "model.safetensors"))
    return folder


def build_run(parent: Path, record: Path = REFERENCE_RECORD, *, name: str = "run", with_model: bool = True) -> Path:
    """A run folder as training leaves it, from a record fixture: record.json (+ model/ with small model files)."""
    from hubkit.runfolder import RunFolder

    run = RunFolder(parent / name)
    run.root.mkdir(parents=True)
    shutil.copy(record, run.record_path)
    if with_model:
        write_model_files(run.model_dir, run.record.base_model.architecture)
    return run.root


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path (folders included as entries, so an empty one counts)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
    return out


def assert_one_line_error(result, *fragments: str, exit_code: int = 2) -> str:
    """A CLI result (click's CliRunner Result or a subprocess.CompletedProcess) that failed the way hubkit fails on
    bad input: the given exit code, nothing on stdout, no traceback, and exactly one `Error: ...` line, the last
    line on stderr, holding every fragment. Returns that line."""
    code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    stdout, stderr = result.stdout or "", result.stderr or ""
    assert code == exit_code, f"exit {code}, wanted {exit_code}\n{stdout}\n{stderr}"
    assert "Traceback" not in stdout + stderr, stderr
    assert stdout == "", stdout
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    return errors[0]
