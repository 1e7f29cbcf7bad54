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

# The token the tests' local Hubs accept; built at run time, so no token-shaped literal is committed. Tests check that
# it reaches no file, log or output.
SENTINEL = "hf_" + "SENTINELsentinel" * 2 + "1234"
USER = "alice"


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


EXTRA_EXAMPLE = {
    "question": "What did Nokia raise?",
    "context": "Shares of Nokia rose 5% after the company reported strong quarterly revenue and raised its outlook.",
}


def write_measured_run(run: Path, model: Path, examples: list[dict], repo_id: str, record: Path = REFERENCE_RECORD):
    """record.json (from a fixture) whose smoke examples are what `model` really answers through pipeline(), plus
    the card and loss plot exactly as `hubkit build-card` writes them."""
    from transformers import pipeline

    from hubkit.card import build_card
    from hubkit.record import RunRecord

    qa = pipeline("question-answering", model=str(model), device="cpu")
    data = json.loads(Path(record).read_text(encoding="utf-8"))
    measured = [dict(e) for e in examples]
    for example in measured:
        got = qa(question=example["question"], context=example["context"])
        example.update(answer=got["answer"], score=float(got["score"]))
    data["smoke_examples"] = measured
    data["card"]["model_name"] = repo_id.split("/")[-1]
    RunRecord.from_dict(data).save(run)
    build_card(run, repo_id=repo_id)


def build_published_run(folder: Path, repo_id: str = f"{USER}/tiny-finance-qa") -> Path:
    """A complete run folder: model/ (tiny weights, tokenizer, config, card, loss plot), record.json, adapter/,
    and files that must never be pushed. The record's smoke examples are what this model really answers."""
    from hubkit.train.tiny import write_tiny_base

    run = Path(folder)
    model = write_tiny_base(run / "model")
    record = json.loads(REFERENCE_RECORD.read_text(encoding="utf-8"))
    questions = [{"question": e["question"], "context": e["context"]} for e in record["smoke_examples"]]
    write_measured_run(run, model, questions + [EXTRA_EXAMPLE], repo_id)
    # things a run folder holds that must stay local
    (model / "training_args.bin").write_bytes(b"\x80\x04training args")
    (model / "optimizer.pt").write_bytes(b"\x80\x04optimizer state")
    (model / "checkpoint-10").mkdir()
    (model / "checkpoint-10" / "model.safetensors").write_bytes(b"old")
    (run / "adapter").mkdir()
    (run / "adapter" / "adapter_config.json").write_text("{}")
    return run
