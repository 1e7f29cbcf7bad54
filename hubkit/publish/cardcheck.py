"""The card a push commits: right repo id in every usage block, lint-clean, and accepted by the Hub's YAML check.

All of it happens before the repo is created or any byte is uploaded:
- :func:`card_for_repo` reads the usage blocks' repo ids. A card built without `--repo-id` (its blocks load the
  record's bare `model_name`) and with the built-in template is re-rendered for the pushed repo, so the README that is
  committed is right; a card naming any other repo is refused.
- :func:`lint_or_fail` runs the card generator's linter.
- :func:`validate_metadata` asks the Hub's `/api/validate-yaml` (what `HfApi.upload_folder` does before hashing,
  and `create_commit` does not); an error ends the push with the Hub's own message.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import ChecksFailed, HubkitError
from ..record import RunRecord
from .stage import CARD_FILENAME, MODEL_DIRNAME


@dataclass(frozen=True)
class Card:
    path: Path  # the card to commit (the run's, or a re-rendered copy in a temp folder for a dry run)
    text: str
    rerendered: bool  # True: the run's card was built without the repo id and was rendered again with it


def _repos_named(text: str) -> list[tuple[str, int, str | None, str]]:
    """(block label, line, repo or None, argument source) for every loader call of every Python block."""
    from ..card.codeblocks import CodeBlockError, loaded_repos, python_blocks

    out = []
    for block in python_blocks(text):
        try:
            refs = loaded_repos(block.code)
        except CodeBlockError as exc:
            raise HubkitError(f"card {block.label}: {exc}; nothing uploaded") from None
        out += [(block.label, block.line + ref.line - 1, ref.repo, ref.source) for ref in refs]
    return out


def wrong_repo(text: str, repo_id: str) -> str | None:
    """A one-line description of the first usage block that does not load `repo_id`, or None when all do."""
    for label, line, repo, source in _repos_named(text):
        if repo is None:
            return f"{label} loads {source} at README.md line {line}, which is not the repo id {repo_id!r} spelled out"
        if repo != repo_id:
            return f"{label} loads {repo!r} at README.md line {line}, not the pushed repo {repo_id!r}"
    return None


def card_for_repo(run: Path, repo_id: str, *, write: bool, scratch: Path | None = None) -> Card:
    """The card to push to `repo_id`; re-rendered with it when the card was built without one.

    `write` False (dry run): a re-rendered card goes to `scratch` and the run folder is left as it is.
    Raises HubkitError (nothing uploaded) when a usage block names another repo.
    """
    from ..card.render import render_card

    path = run / MODEL_DIRNAME / CARD_FILENAME
    if not path.is_file():
        raise HubkitError(f"{path.parent}: no {CARD_FILENAME} model card; run `hubkit build-card` first")
    text = path.read_text(encoding="utf-8")
    problem = wrong_repo(text, repo_id)
    if problem is None:
        return Card(path, text, False)
    record = RunRecord.load(run)
    built_without_repo_id = text == render_card(record)  # the built-in template, default repo id
    if not built_without_repo_id:
        raise HubkitError(
            f"card {problem}; rebuild it with `hubkit build-card --run {run} --repo-id {repo_id}`; nothing uploaded"
        )
    fresh = render_card(record, repo_id=repo_id)
    still = wrong_repo(fresh, repo_id)
    if still is not None:
        raise HubkitError(f"card {still} even rendered with --repo-id {repo_id}; nothing uploaded")
    if write:
        path.write_text(fresh, encoding="utf-8", newline="\n")
        return Card(path, fresh, True)
    if scratch is None:
        raise ValueError("a dry run needs a scratch folder for the re-rendered card")
    copy = scratch / CARD_FILENAME
    copy.write_text(fresh, encoding="utf-8", newline="\n")
    return Card(copy, fresh, True)


def lint_or_fail(card: Path, model_dir: Path) -> None:
    """Lint the card with the card generator's linter; any blocking problem stops the push before any upload."""
    from ..card.lint import lint_card

    problems = [
        p for p in lint_card(card, model_dir) if str(getattr(p, "severity", "error")).lower() not in {"warning", "info"}
    ]
    if problems:
        shown = "; ".join(f"{p.code}: {p.message}" for p in problems[:3])
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ChecksFailed(f"card lint failed, nothing uploaded: {shown}{more}")


def validate_metadata(api, text: str, describe) -> list[str]:
    """Ask the Hub's `/api/validate-yaml` about the card (huggingface_hub's own call, as `upload_folder` makes it).

    Returns the Hub's warnings; raises HubkitError with the Hub's error messages when it rejects the card.
    `describe(exc)` turns any other failure (HTTP 5xx, transport) into a short token-free text.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            api._validate_yaml(text, repo_type="model")
        except ValueError as exc:  # HTTP 400: "Invalid metadata in README.md.\n- message\n- message"
            lines = [line.lstrip("- ").strip() for line in str(exc).splitlines()[1:] if line.strip()]
            raise HubkitError(
                f"the Hub rejected the card's metadata, nothing uploaded: {'; '.join(lines) or str(exc).strip()}"
            ) from None
        except Exception as exc:
            raise HubkitError(f"validating the card's metadata failed: {describe(exc)}; nothing uploaded") from None
    out = []
    for w in caught:
        out += [line.lstrip("- ").strip() for line in str(w.message).splitlines()[1:] if line.strip()]
    return out
