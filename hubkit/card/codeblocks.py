"""The Python code blocks of a model card: extract them, find the repos they load, and pin the revision they load.

The smoke test runs the card's own code, so this module is the one place that reads code out of Markdown:
- :func:`python_blocks` finds the fenced ```python blocks;
- :func:`loaded_repos` lists what each `pipeline(...)` / `X.from_pretrained(...)` call loads (string literals, or
  names bound to string literals at the top level of the block);
- :func:`pin_revision` is the ONE edit the smoke test may make before running a block: it adds
  `revision="<commit>"` to every loader call (or replaces the value of an existing `revision=`), because the code
  a card publishes loads `main`, which does not hold a pull request yet;
- :func:`only_revision_pinned` proves that edit is the only difference (same syntax tree once the loaders'
  `revision` keywords are set aside, same `# ->` comments) and returns the diff to show;
- :func:`print_sites` maps every `print(...)` statement to the `# -> expected output` comment at its end.

Plain `ast` and `tokenize`: importing this module costs nothing and never runs the code it reads.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import re
import tokenize
from dataclasses import dataclass

LOADER_FUNCTIONS = ("pipeline",)  # called by name: pipeline("task", model=...)
LOADER_METHODS = ("from_pretrained",)  # called as an attribute: AutoModel.from_pretrained(repo, ...)
EXPECTED_MARK = "# ->"

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")


class CodeBlockError(ValueError):
    """A code block that cannot be read, pinned or checked (message is one line)."""


@dataclass(frozen=True)
class CodeBlock:
    index: int  # 1-based among the card's Python blocks
    line: int  # 1-based line of the README where the code starts (after the opening fence)
    code: str

    @property
    def label(self) -> str:
        return f"README.md block {self.index} (line {self.line})"


@dataclass(frozen=True)
class RepoRef:
    """What one loader call loads: `repo` is None when it is not a literal (or a name bound to one)."""

    line: int
    call: str  # "pipeline" or "from_pretrained"
    repo: str | None
    source: str  # the argument's source text


@dataclass(frozen=True)
class PrintSite:
    """A `print(...)` statement spanning lines `first`..`last` of a block, with its `# ->` comment (None: none)."""

    first: int
    last: int
    expected: str | None


def python_blocks(markdown: str) -> list[CodeBlock]:
    """The fenced code blocks whose info string is `python` or `py`, in order."""
    blocks: list[CodeBlock] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group("fence"), m.group("info").strip().split(" ")[0].lower()
        j = i + 1
        while j < len(lines) and not _closes(lines[j], fence):
            j += 1
        if info in ("python", "py", "python3"):
            blocks.append(CodeBlock(len(blocks) + 1, i + 2, "\n".join(lines[i + 1 : j]) + "\n"))
        i = j + 1
    return blocks


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def _parse(code: str, label: str = "code block") -> ast.Module:
    try:
        return ast.parse(code)
    except SyntaxError as exc:
        raise CodeBlockError(f"{label}: not valid Python (line {exc.lineno}: {exc.msg})") from None


def _loader_name(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Name) and node.func.id in LOADER_FUNCTIONS:
        return node.func.id
    if isinstance(node.func, ast.Attribute) and node.func.attr in LOADER_FUNCTIONS + LOADER_METHODS:
        return node.func.attr
    return None


def _loader_calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if _loader_name(n)]  # type: ignore[misc]


def _string_bindings(tree: ast.Module) -> dict[str, str | None]:
    """Top-level `name = "literal"` (and `a, b = "x", "y"`) bindings; a name bound twice or to anything else: None."""
    out: dict[str, str | None] = {}

    def bind(target: ast.AST, value: ast.AST | None) -> None:
        if isinstance(target, ast.Name):
            literal = value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
            out[target.id] = literal if target.id not in out else None
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = (
                value.elts if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts) else None
            )
            for k, element in enumerate(target.elts):
                bind(element, values[k] if values else None)

    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                bind(target, stmt.value)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            bind(stmt.target, stmt.value)
    return out


def _model_argument(call: ast.Call, name: str) -> ast.AST | None:
    """pipeline(task, model, ...) / pipeline(model=...); X.from_pretrained(repo, ...) / (pretrained_model_name_or_path=)."""
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    if name == "pipeline":
        return keywords.get("model") or (call.args[1] if len(call.args) > 1 else None)
    return keywords.get("pretrained_model_name_or_path") or (call.args[0] if call.args else None)


def loaded_repos(code: str) -> list[RepoRef]:
    """Every loader call of `code` with the repo it loads (None where that is not a literal or a bound name)."""
    tree = _parse(code)
    bindings = _string_bindings(tree)
    refs = []
    for call in _loader_calls(tree):
        name = _loader_name(call) or ""
        arg = _model_argument(call, name)
        repo: str | None = None
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            repo = arg.value
        elif isinstance(arg, ast.Name):
            repo = bindings.get(arg.id)
        source = ast.get_source_segment(code, arg) if arg is not None else ""
        refs.append(RepoRef(call.lineno, name, repo, source or ""))
    return refs


def uses_pipeline(code: str) -> str | None:
    """The task of the block's first `pipeline(...)` call ("" when not a literal), or None without a pipeline."""
    for call in _loader_calls(_parse(code)):
        if _loader_name(call) == "pipeline":
            task = next((k.value for k in call.keywords if k.arg == "task"), call.args[0] if call.args else None)
            return task.value if isinstance(task, ast.Constant) and isinstance(task.value, str) else ""
    return None


# ---- the one allowed edit -------------------------------------------------------------------------------------------
def _offset(lines: list[str], lineno: int, col_utf8: int) -> int:
    """A character offset into the joined text from ast's (1-based line, UTF-8 byte column)."""
    before = sum(len(line) for line in lines[: lineno - 1])
    return before + len(lines[lineno - 1].encode("utf-8")[:col_utf8].decode("utf-8"))


def _end(node: ast.AST) -> tuple[int, int]:
    line, col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
    return (line if isinstance(line, int) else 1, col if isinstance(col, int) else 0)


def pin_revision(code: str, revision: str) -> str:
    """`code` with `revision=<revision>` on every loader call: an existing `revision=` keyword gets the new value,
    other calls get the keyword after their last argument. Line numbers are unchanged (edits stay on their line)."""
    tree = _parse(code)
    lines = code.splitlines(keepends=True)
    literal = json.dumps(revision)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) character offsets
    for call in _loader_calls(tree):
        existing = next((k for k in call.keywords if k.arg == "revision"), None)
        if existing is not None:
            v = existing.value
            edits.append(
                (
                    _offset(lines, v.lineno, v.col_offset),
                    _offset(lines, v.end_lineno or v.lineno, v.end_col_offset or 0),
                    literal,
                )
            )
            continue
        arguments = [*call.args, *call.keywords]
        if arguments:
            end_line, end_col = max(_end(a) for a in arguments)
            at = _offset(lines, end_line, end_col)
            edits.append((at, at, f", revision={literal}"))
        else:  # f() -> f(revision="...")
            at = _offset(lines, call.end_lineno or call.lineno, (call.end_col_offset or 1) - 1)
            edits.append((at, at, f"revision={literal}"))
    text = "".join(lines)
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _without_loader_revisions(tree: ast.Module) -> str:
    for call in _loader_calls(tree):
        call.keywords = [k for k in call.keywords if k.arg != "revision"]
    return ast.dump(tree, include_attributes=False)


def only_revision_pinned(original: str, pinned: str, revision: str) -> str:
    """Check that `pinned` differs from `original` only by `revision=<revision>` on the loader calls; return the
    unified diff. Raises CodeBlockError naming what else differs."""
    before, after = _parse(original, "original block"), _parse(pinned, "pinned block")
    for call in _loader_calls(after):
        value = next((k.value for k in call.keywords if k.arg == "revision"), None)
        if not (isinstance(value, ast.Constant) and value.value == revision):
            raise CodeBlockError(f"line {call.lineno}: a loader call is not pinned to {revision!r}")
    if _without_loader_revisions(before) != _without_loader_revisions(after):
        raise CodeBlockError("the pinned block differs from the card's block by more than the loaders' revision")
    if print_sites(original) != print_sites(pinned):
        raise CodeBlockError("the pinned block's `# ->` comments differ from the card's")
    return "".join(
        difflib.unified_diff(
            original.splitlines(keepends=True),
            pinned.splitlines(keepends=True),
            "card",
            f"pinned to {revision}",
        )
    )


# ---- what the block claims it prints --------------------------------------------------------------------------------
def _expected_comments(code: str) -> dict[int, str]:
    out = {}
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.COMMENT and token.string.startswith(EXPECTED_MARK):
            out[token.start[0]] = token.string[len(EXPECTED_MARK) :].strip()
    return out


def print_sites(code: str) -> list[PrintSite]:
    """Every `print(...)` call with the `# ->` comment on one of its lines (its last line, by convention)."""
    tree = _parse(code)
    comments = _expected_comments(code)
    sites = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            last = node.end_lineno or node.lineno
            expected = next((comments[n] for n in range(last, node.lineno - 1, -1) if n in comments), None)
            sites.append(PrintSite(node.lineno, last, expected))
    return sorted(sites, key=lambda s: s.first)


def unclaimed_comments(code: str) -> list[int]:
    """Lines holding a `# ->` comment that belongs to no print call (a claim nothing checks)."""
    covered = {n for s in print_sites(code) for n in range(s.first, s.last + 1)}
    return sorted(n for n in _expected_comments(code) if n not in covered)
