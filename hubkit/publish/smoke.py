"""The smoke test: run the card's own Python code, as published at a revision, and check every `# ->` answer.

What is verified is the README.md that the Hub serves at the revision under test, nothing rendered separately:
1. README.md is downloaded at the revision (resolved to its commit) into a throw-away cache.
2. Its ```python blocks are extracted (hubkit.card.codeblocks). When the revision under test is not `main`, each
   block gets the one declared, mechanical edit: `revision="<commit>"` on its `pipeline(...)` / `from_pretrained(...)`
   calls (the published code loads `main`, which does not hold a pull request yet). `only_revision_pinned` proves
   that is the only difference, and the diff is part of the report. Tested against `main`, the blocks run unedited.
3. The blocks run in ONE fresh Python process with an empty `HF_HOME` and `HF_ENDPOINT` set to the Hub under test
   (huggingface_hub reads both at import time, so a child process is the only reliable "fresh cache"), each block
   in its own namespace. The token travels through the child's environment only, never argv.
4. Every value a block prints is compared with the `# ->` comment of the `print` that printed it (numbers within
   `tolerance`, text after collapsing whitespace). A print without a comment, a comment never printed, a block that
   raises, or a card with nothing to check all fail.
A block that calls `pipeline(...)` runs only where the installed transformers has that pipeline task (it was removed
in 5.3); it is reported as skipped otherwise. A block without a pipeline always runs.

This module imports nothing heavy at load time.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..card.codeblocks import (
    CodeBlock,
    CodeBlockError,
    only_revision_pinned,
    pin_revision,
    print_sites,
    python_blocks,
    unclaimed_comments,
    uses_pipeline,
)
from ..errors import ChecksFailed, HubkitError
from .auth import endpoint_from_env, scrub

DEFAULT_TOLERANCE = 1e-3
CARD_FILENAME = "README.md"
UNPINNED = "main"  # the revision the published code loads: tested there, the blocks run unedited


@dataclass(frozen=True)
class SmokeRow:
    """One printed value (or one missing one) of one block, next to what the card's `# ->` comment claims."""

    block: int
    line: int  # line in the block of the print statement (0: the block as a whole)
    code: str  # the print statement's source line
    claimed: str | None
    got: str | None
    ok: bool
    reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BlockRun:
    """How one code block of the card was run: `status` is "ran", "skipped" (pipeline missing) or "failed"."""

    index: int
    line: int  # line of README.md where the block starts
    kind: str  # "pipeline" or "no pipeline"
    status: str
    reason: str = ""
    pinned_diff: str = ""  # the declared edit (empty when run unedited)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SmokeReport:
    repo_id: str
    revision: str  # what was asked for
    commit: str  # the commit it resolved to
    tolerance: float
    pinned: bool  # True: the blocks ran with revision=<commit>; False: unedited (against main)
    rows: tuple[SmokeRow, ...] = field(default_factory=tuple)
    blocks: tuple[BlockRun, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        ran = [b for b in self.blocks if b.status == "ran"]
        return bool(ran) and bool(self.rows) and all(r.ok for r in self.rows)

    @property
    def failures(self) -> tuple[SmokeRow, ...]:
        return tuple(r for r in self.rows if not r.ok)

    @property
    def checked(self) -> int:
        return sum(1 for r in self.rows if r.claimed is not None and r.got is not None)

    def to_dict(self) -> dict:
        return {
            "repo_id": self.repo_id,
            "revision": self.revision,
            "commit": self.commit,
            "tolerance": self.tolerance,
            "pinned": self.pinned,
            "ok": self.ok,
            "blocks": [b.to_dict() for b in self.blocks],
            "rows": [r.to_dict() for r in self.rows],
        }

    def first_failure(self) -> str:
        """One line describing the first failure (for error messages)."""
        r = self.failures[0] if self.failures else None
        if r is None:
            return "no block ran" if not any(b.status == "ran" for b in self.blocks) else "no failures"
        where = f"README.md block {r.block}" + (f" line {r.line}" if r.line else "")
        return f"{where}: {r.reason}"


class SmokeTestFailed(ChecksFailed):
    """The revision does not print what its card claims (exit 1, not a usage error)."""

    def __init__(self, message: str, report: SmokeReport, result: Any = None):
        super().__init__(message)
        self.report = report
        self.result = result  # the PushResult so far, when raised by `push` (commit sha, PR url...)


# ---- comparing ------------------------------------------------------------------------------------------------------
def _oneline(text: str) -> str:
    return " ".join(text.split())


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def matches(claimed: str, got: str, tolerance: float) -> str:
    """ "" when `got` (what was printed) matches the `# ->` claim, else the reason."""
    got_text, claimed_text = _oneline(got), _oneline(claimed)
    a, b = _number(claimed_text), _number(got_text)
    if a is not None and b is not None:
        allowed = max(tolerance, 5e-5)  # the card prints scores rounded to 4 decimals
        return (
            "" if abs(a - b) <= allowed else f"printed {got_text}, card claims {claimed_text} (off by {abs(a - b):.4g})"
        )
    return "" if got_text == claimed_text else f"printed {got_text!r}, card claims {claimed_text!r}"


def check_block(index: int, code: str, printed: list[tuple[int, str]], tolerance: float) -> list[SmokeRow]:
    """Rows for one block that ran: each print compared with its `# ->`, plus rows for what is missing."""
    lines = code.splitlines()
    sites = print_sites(code)
    rows: list[SmokeRow] = []
    seen: set[int] = set()
    for lineno, text in printed:
        site = next((s for s in sites if s.first <= lineno <= s.last), None)
        source = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else "?"
        if site is None or site.expected is None:
            rows.append(
                SmokeRow(index, lineno, source, None, text, False, f"printed {_oneline(text)!r} with no `# ->`")
            )
            continue
        seen.add(site.first)
        reason = matches(site.expected, text, tolerance)
        rows.append(SmokeRow(index, site.first, source, site.expected, text, not reason, reason))
    for site in sites:
        if site.expected is not None and site.first not in seen:
            source = lines[site.first - 1].strip()
            rows.append(SmokeRow(index, site.first, source, site.expected, None, False, "never printed"))
    for lineno in unclaimed_comments(code):
        rows.append(SmokeRow(index, lineno, lines[lineno - 1].strip(), None, None, False, "`# ->` on no print call"))
    return rows


# ---- preparing and running ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PreparedBlock:
    block: CodeBlock
    code: str  # what runs: the card's code, pinned when `pinned_diff`
    pipeline_task: str | None
    pinned_diff: str


def prepare_blocks(readme: str, pin_to: str | None) -> list[PreparedBlock]:
    """The card's Python blocks, each pinned to `pin_to` (a commit) or unedited (None). Raises HubkitError."""
    blocks = python_blocks(readme)
    if not blocks:
        raise HubkitError("README.md has no ```python code block to run")
    prepared = []
    for block in blocks:
        try:
            code, diff = block.code, ""
            if pin_to is not None:
                code = pin_revision(block.code, pin_to)
                diff = only_revision_pinned(block.code, code, pin_to)
            prepared.append(PreparedBlock(block, code, uses_pipeline(block.code), diff))
        except CodeBlockError as exc:
            raise HubkitError(f"{block.label}: {exc}") from None
    return prepared


def _child_env(endpoint: str, token: str | None, hf_home: str) -> dict[str, str]:
    """The parent's environment minus anything that would reuse a cache, go offline or pick another token."""
    drop = {
        "HF_HOME",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_XET_CACHE",
        "HF_ASSETS_CACHE",
        "TRANSFORMERS_CACHE",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN_PATH",
        "HF_OIDC_RESOURCE",
        "HF_OIDC_ID_TOKEN",
        "HF_ENDPOINT",
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


def _download_readme(repo_id: str, revision: str, endpoint: str, token: str | None, cache: str) -> tuple[str, str]:
    """(commit the revision resolves to, README.md text there), through the real client in this process."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        EntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    api = HfApi(endpoint=endpoint, token=token or False)
    try:
        commit = api.repo_info(repo_id, revision=revision).sha or revision
        path = api.hf_hub_download(repo_id, CARD_FILENAME, revision=commit, cache_dir=cache)
    except RepositoryNotFoundError:
        raise HubkitError(f"smoke test: {repo_id} not found (or private and the token cannot see it)") from None
    except RevisionNotFoundError:
        raise HubkitError(f"smoke test: {repo_id} has no revision {revision!r}") from None
    except EntryNotFoundError:
        raise HubkitError(f"smoke test: {repo_id}@{revision} has no {CARD_FILENAME}") from None
    except Exception as exc:  # transport errors, 5xx
        lines = str(exc).strip().splitlines()
        raise HubkitError(
            f"smoke test could not read {repo_id}@{revision}: {scrub(lines[0] if lines else type(exc).__name__, token)}"
        ) from None
    return commit, Path(path).read_text(encoding="utf-8")


def smoke_test(
    repo_id: str,
    revision: str | None = None,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    pin: bool | None = None,
    timeout: float = 900,
) -> SmokeReport:
    """Run the Python blocks of `repo_id`'s README.md at `revision` (default "main") in a fresh process and cache.

    `pin` (default: unless `revision` is "main") pins the blocks' loaders to the commit `revision` resolves to.
    Returns the report (check `.ok`); raises HubkitError when the revision or its card cannot be read at all.
    """
    if tolerance < 0:
        raise HubkitError(f"tolerance must be >= 0, got {tolerance}")
    endpoint = (endpoint or endpoint_from_env()).rstrip("/")
    revision = revision or UNPINNED
    pin = revision != UNPINNED if pin is None else pin
    with tempfile.TemporaryDirectory(prefix="hubkit-smoke-") as tmp:
        commit, readme = _download_readme(repo_id, revision, endpoint, token, str(Path(tmp) / "readme-cache"))
        prepared = prepare_blocks(readme, commit if pin else None)
        job = Path(tmp) / "job.json"
        out_path = Path(tmp) / "result.json"
        job.write_text(
            json.dumps([{"label": p.block.label, "code": p.code, "pipeline_task": p.pipeline_task} for p in prepared]),
            encoding="utf-8",
        )
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "hubkit.publish.smoke", str(job), str(out_path)],
                env=_child_env(endpoint, token, str(Path(tmp) / "hf_home")),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise HubkitError(f"smoke test of {repo_id}@{revision} took longer than {timeout:.0f}s") from None
        results = json.loads(out_path.read_text(encoding="utf-8")) if out_path.is_file() else None
        if proc.returncode != 0 or not isinstance(results, list):
            lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
            why = lines[-1] if lines else f"exit code {proc.returncode}"
            raise HubkitError(f"smoke test could not run the card of {repo_id}@{revision}: {scrub(why, token)}")

    rows: list[SmokeRow] = []
    blocks: list[BlockRun] = []
    for p, result in zip(prepared, results):
        kind = "pipeline" if p.pipeline_task is not None else "no pipeline"
        index = p.block.index
        if result.get("skipped"):
            blocks.append(BlockRun(index, p.block.line, kind, "skipped", result["skipped"], p.pinned_diff))
            continue
        block_rows = check_block(index, p.code, [tuple(x) for x in result["printed"]], tolerance)
        if result.get("error"):
            block_rows.append(
                SmokeRow(
                    index,
                    result.get("error_line") or 0,
                    "",
                    None,
                    None,
                    False,
                    f"raised {scrub(result['error'], token)}",
                )
            )
        if not block_rows:
            block_rows.append(SmokeRow(index, 0, "", None, None, False, "prints nothing to check"))
        failed = any(not r.ok for r in block_rows)
        blocks.append(BlockRun(index, p.block.line, kind, "failed" if failed else "ran", "", p.pinned_diff))
        rows.extend(block_rows)
    if not any(b.kind == "no pipeline" for b in blocks):
        rows.append(SmokeRow(0, 0, "", None, None, False, "the card has no pipeline-free code block"))
    return SmokeReport(repo_id, revision, commit, tolerance, pin, tuple(rows), tuple(blocks))


def format_table(report: SmokeReport, width: int = 40) -> str:
    """A plain-text table: one line per printed value (and per block that was skipped)."""

    def cut(text: str | None) -> str:
        text = "-" if text is None else " ".join(text.split())
        return text if len(text) <= width else text[: width - 1] + "…"

    header = ("block", "line", "claimed (# ->)", "printed", "ok")
    lines = [header]
    for b in report.blocks:
        if b.status == "skipped":
            lines.append((str(b.index), "-", "-", "-", f"skipped: {b.reason}"))
    for r in report.rows:
        lines.append((str(r.block), str(r.line), cut(r.claimed), cut(r.got), "ok" if r.ok else f"FAIL: {r.reason}"))
    widths = [max(len(row[c]) for row in lines) for c in range(len(header))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


# ---- the child process --------------------------------------------------------------------------------------------
def _pipeline_missing(task: str) -> str:
    """Why a block calling pipeline(task) cannot run with the installed transformers ("" when it can)."""
    import transformers

    if not hasattr(transformers, "pipeline"):
        return f"transformers {transformers.__version__} has no pipeline()"
    if task:
        from transformers.pipelines import SUPPORTED_TASKS

        if task not in SUPPORTED_TASKS:
            return f"transformers {transformers.__version__} has no {task!r} pipeline"
    return ""


def _run_block(label: str, code: str) -> dict:
    """Execute one block in its own namespace; record what each print call printed and on which line."""
    import builtins
    import traceback

    printed: list[tuple[int, str]] = []

    def recording_print(*args, sep=" ", end="\n", file=None, flush=False):
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename != label:
            frame = frame.f_back
        printed.append(
            (frame.f_lineno if frame is not None else 0, (sep if sep is not None else " ").join(map(str, args)))
        )
        builtins.print(*args, sep=sep, end=end, file=file, flush=flush)

    namespace = {"__name__": "__main__", "__builtins__": {**vars(builtins), "print": recording_print}}
    result: dict = {"printed": printed}
    try:
        exec(compile(code, label, "exec"), namespace)  # noqa: S102 - running the card's code is the point
    except BaseException as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == label]
        result["error_line"] = frames[-1].lineno if frames else 0
        text = str(exc).strip().splitlines()
        result["error"] = f"{type(exc).__name__}" + (f": {text[0][:300]}" if text else "")
    return result


def _child_main(job_path: str, out_path: str) -> None:
    import logging

    logging.disable(logging.WARNING)
    results = []
    for item in json.loads(Path(job_path).read_text(encoding="utf-8")):
        task = item.get("pipeline_task")
        missing = _pipeline_missing(task) if task is not None else ""
        results.append({"skipped": missing} if missing else _run_block(item["label"], item["code"]))
    Path(out_path).write_text(json.dumps(results), encoding="utf-8")


if __name__ == "__main__":
    _child_main(*sys.argv[1:3])
