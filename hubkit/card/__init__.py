"""The model card: rendered from the run record, linted offline, never hand-edited.

`build_card` is the whole of `hubkit build-card` as a library call. Submodules are imported inside it so that
`import hubkit.card` stays cheap; nothing here imports torch, transformers or peft.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..runfolder import RunFolder
    from .lint import LintProblem


@dataclass(frozen=True)
class BuiltCard:
    card: Path
    plot: Path
    problems: list[LintProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def build_card(
    run_dir: str | Path | RunFolder,
    *,
    template: str | Path | None = None,
    out: str | Path | None = None,
    repo_id: str | None = None,
    space_id: str | None = None,
) -> BuiltCard:
    """Render RUN_DIR/record.json to RUN_DIR/model/README.md (or `out`), put the loss plot beside it, lint the result.

    The plot is drawn from the record, unless an identical one is already there or at RUN_DIR/loss.png (see
    hubkit.card.plots.write_loss_plot: PNGs carry a key of the numbers they were drawn from). The card is replaced
    atomically: an interrupted build leaves the previous card whole.

    The card and plot are written even when lint finds problems (so they can be read); the caller decides what a
    problem means (the CLI exits 1). The files beside the card are checked against RUN_DIR/model.
    Raises HubkitError for bad input (no run, bad record, bad template).
    """
    from ..errors import HubkitError
    from ..runfolder import CARD_FILENAME, PLOT_FILENAME, RunFolder
    from .lint import lint_card
    from .plots import write_loss_plot
    from .render import render_card

    run = RunFolder.of(run_dir)
    record = run.record
    card_path = Path(out) if out is not None else run.card_path
    if card_path.is_dir():
        card_path = card_path / CARD_FILENAME
    text = render_card(record, repo_id=repo_id, template=template, plot=PLOT_FILENAME, space_id=space_id)
    try:
        card_path.parent.mkdir(parents=True, exist_ok=True)
        plot_path = write_loss_plot(
            record.loss_curve, card_path.parent / PLOT_FILENAME, record.train_loss, reuse=[run.plot_path]
        )
        _write_atomically(card_path, text)
    except OSError as exc:
        blocker = next((p for p in card_path.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file, not a folder" if blocker else (exc.strerror or str(exc))
        raise HubkitError(f"cannot write the card to {card_path}: {reason}") from None
    return BuiltCard(card=card_path, plot=plot_path, problems=lint_card(card_path, model_dir=run.model_dir))


def _write_atomically(path: Path, text: str) -> None:
    """A reader (or a kill mid-write) never sees half a card: write beside it, then rename over it."""
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
