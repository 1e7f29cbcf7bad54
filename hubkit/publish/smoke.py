"""The smoke test: load a pushed revision from a fresh, empty cache and check the answers its card claims.

It runs in a subprocess because huggingface_hub reads `HF_ENDPOINT` and `HF_HOME` at import time: a child process
with its own temporary `HF_HOME` is the only reliable "fresh cache" and "this endpoint". The token travels through
the child's environment only (never argv, which other users can read in `ps`), and any text coming back is scrubbed.

Two ways of answering are checked against `record.json` downloaded from the same revision:
- `transformers.pipeline("question-answering")`, exactly what the card's usage section shows;
- :data:`USAGE_SNIPPET`, plain `AutoTokenizer` + `AutoModelForQuestionAnswering` + span decoding, which does not
  depend on the pipeline (removed in transformers 5.3). The card shows this same code, so it is tested too.

This module imports nothing heavy at load time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import HubkitError
from ..card.usage import USAGE_SNIPPET, render_usage_snippet  # noqa: F401  (the card shows it; we run it)
from .auth import endpoint_from_env, scrub

DEFAULT_TOLERANCE = 1e-3
@dataclass(frozen=True)
class SmokeRow:
    """One smoke example answered one way (`method`: "pipeline" or "snippet"), next to what the card claims."""

    index: int
    method: str
    question: str
    claimed_answer: str
    claimed_score: float
    answer: str
    score: float
    ok: bool
    reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SmokeReport:
    repo_id: str
    revision: str  # what was asked for
    commit: str  # the commit it resolved to
    tolerance: float
    rows: tuple[SmokeRow, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r.ok for r in self.rows)

    @property
    def failures(self) -> tuple[SmokeRow, ...]:
        return tuple(r for r in self.rows if not r.ok)

    def to_dict(self) -> dict:
        return {
            "repo_id": self.repo_id,
            "revision": self.revision,
            "commit": self.commit,
            "tolerance": self.tolerance,
            "ok": self.ok,
            "rows": [r.to_dict() for r in self.rows],
        }

    def first_failure(self) -> str:
        """One line describing the first failing example (for error messages)."""
        r = self.failures[0] if self.failures else None
        if r is None:
            return "no failures"
        return (
            f"example {r.index} ({r.method}): got {r.answer!r} (score {r.score:.4f}), "
            f"card claims {r.claimed_answer!r} (score {r.claimed_score:.4f}): {r.reason}"
        )


class SmokeTestFailed(HubkitError):
    """The pushed revision does not give the answers its card claims (exit 1, not a usage error)."""

    exit_code = 1

    def __init__(self, message: str, report: SmokeReport, result: object | None = None):
        super().__init__(message)
        self.report = report
        self.result = result  # the PushResult so far, when raised by `push` (commit sha, PR url...)


def compare(index: int, method: str, example: dict, got: dict, tolerance: float) -> SmokeRow:
    answer, score = str(got["answer"]), float(got["score"])
    claimed_answer, claimed_score = example["answer"], float(example["score"])
    reasons = []
    if answer != claimed_answer:
        reasons.append("answer differs")
    if abs(score - claimed_score) > tolerance:
        reasons.append(f"score off by {abs(score - claimed_score):.4g} > {tolerance:g}")
    return SmokeRow(
        index, method, example["question"], claimed_answer, claimed_score, answer, score,
        ok=not reasons, reason="; ".join(reasons),
    )


def _child_env(endpoint: str, token: str | None, hf_home: str) -> dict[str, str]:
    """The parent's environment minus anything that would reuse a cache, go offline or pick another token."""
    drop = {
        "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_XET_CACHE", "HF_ASSETS_CACHE", "TRANSFORMERS_CACHE",
        "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN_PATH", "HF_OIDC_RESOURCE", "HF_OIDC_ID_TOKEN", "HF_ENDPOINT",
    }
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        HF_HOME=hf_home,
        HF_ENDPOINT=endpoint,
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        TRANSFORMERS_VERBOSITY="error",
        TOKENIZERS_PARALLELISM="false",
        PYTHONIOENCODING="utf-8",
    )
    # the child must import this very hubkit, installed or not
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    if token:
        env["HF_TOKEN"] = token
    return env


def smoke_test(
    repo_id: str,
    revision: str | None = None,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    timeout: float = 900,
) -> SmokeReport:
    """Answer the smoke examples of `repo_id` at `revision` (default "main") in a fresh process and cache.

    Returns the report (check `.ok`); raises HubkitError when the revision cannot be loaded at all.
    """
    if tolerance < 0:
        raise HubkitError(f"tolerance must be >= 0, got {tolerance}")
    endpoint = (endpoint or endpoint_from_env()).rstrip("/")
    revision = revision or "main"
    with tempfile.TemporaryDirectory(prefix="hubkit-smoke-") as tmp:
        out_path = Path(tmp) / "result.json"
        proc = subprocess.run(
            [sys.executable, "-m", "hubkit.publish.smoke", repo_id, revision, str(out_path)],
            env=_child_env(endpoint, token, str(Path(tmp) / "hf_home")),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        result = json.loads(out_path.read_text(encoding="utf-8")) if out_path.is_file() else {}
        if proc.returncode != 0 or "error" in result or not result:
            lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
            why = result.get("error") or (lines[-1] if lines else f"exit code {proc.returncode}")
            raise HubkitError(f"smoke test could not load {repo_id}@{revision}: {scrub(why, token)}")
    rows = []
    for i, example in enumerate(result["examples"], start=1):
        for method in ("pipeline", "snippet"):
            rows.append(compare(i, method, example, result[method][i - 1], tolerance))
    return SmokeReport(repo_id, revision, result["commit"], tolerance, tuple(rows))


def format_table(report: SmokeReport, width: int = 40) -> str:
    """A plain-text table: one line per example and method."""

    def cut(text: str) -> str:
        text = " ".join(text.split())
        return text if len(text) <= width else text[: width - 1] + "…"

    header = ("#", "method", "question", "claimed", "got", "score (claimed)", "ok")
    lines = [header]
    for r in report.rows:
        lines.append(
            (str(r.index), r.method, cut(r.question), cut(r.claimed_answer), cut(r.answer),
             f"{r.score:.4f} ({r.claimed_score:.4f})", "ok" if r.ok else f"FAIL: {r.reason}")
        )
    widths = [max(len(row[c]) for row in lines) for c in range(len(header))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


# ---- the child process --------------------------------------------------------------------------------------------
def _child_main(repo_id: str, revision: str, out_path: str) -> None:
    """Runs inside the fresh process: read the record at the revision, answer each example both ways, write JSON."""
    import logging

    from huggingface_hub import HfApi, hf_hub_download

    from ..record import RECORD_FILENAME, RunRecord

    logging.disable(logging.WARNING)
    # The record first: a missing repo or revision fails before the slow transformers import.
    commit = HfApi().repo_info(repo_id, revision=revision).sha or revision
    record = RunRecord.load(hf_hub_download(repo_id, RECORD_FILENAME, revision=commit))
    examples = [e.model_dump() for e in record.smoke_examples]

    from transformers import pipeline
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    qa = pipeline("question-answering", model=repo_id, revision=commit, device="cpu")
    by_pipeline = [dict(qa(question=e["question"], context=e["context"])) for e in examples]

    scope: dict = {}
    exec(compile(render_usage_snippet(repo_id, commit), "<usage snippet>", "exec"), scope)
    by_snippet = [scope["answer_question"](e["question"], e["context"]) for e in examples]

    def clean(rows):
        return [{"answer": r["answer"], "score": float(r["score"])} for r in rows]

    result = {"commit": commit, "examples": examples, "pipeline": clean(by_pipeline), "snippet": clean(by_snippet)}
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")


def _child_entry(argv: list[str]) -> int:
    """Exit 0 with the result written, or 3 with a one-line reason written in its place."""
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    known = {
        RepositoryNotFoundError: "repository not found (or private and the token cannot see it)",
        RevisionNotFoundError: "revision not found",
        EntryNotFoundError: "no record.json at that revision",
    }
    try:
        _child_main(*argv[:3])
    except Exception as exc:  # reported to the parent, which scrubs it and raises a one-line HubkitError
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = next((text for kind, text in known.items() if isinstance(exc, kind)), None)
        reason = reason or (f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__)
        Path(argv[2]).write_text(json.dumps({"error": reason[:300]}), encoding="utf-8")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(_child_entry(sys.argv[1:]))
