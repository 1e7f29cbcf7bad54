"""The model card: rendered from the run record, linted offline, never hand-edited.

`build_card` is the whole of `hubkit build-card` as a library call. Submodules are imported inside it so that
`import hubkit.card` stays cheap; nothing here imports torch, transformers or peft.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .lint import LintProblem

MODEL_SUBDIR = "model"


@dataclass(frozen=True)
class BuiltCard:
    card: Path
    plot: Path
    problems: list["LintProblem"] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def build_card(
    run_dir: str | Path,
    *,
    template: str | Path | None = None,
    out: str | Path | None = None,
    repo_id: str | None = None,
    space_id: str | None = None,
) -> BuiltCard:
    """Render RUN_DIR/record.json to RUN_DIR/model/README.md (or `out`), put the loss plot beside it, lint the result.

    The plot is drawn from the record, unless an identical one is already there or at RUN_DIR/loss.png (see
    hubkit.card.plots.write_loss_plot: PNGs carry a key of the numbers they were drawn from).

    The card and plot are written even when lint finds problems (so they can be read); the caller decides what a
    problem means (the CLI exits 2). The files beside the card are checked against RUN_DIR/model.
    Raises HubkitError for bad input (no run, bad record, bad template).
    """
    from ..errors import HubkitError
    from ..record import RunRecord
    from .lint import lint_card
    from .plots import PLOT_FILENAME, write_loss_plot
    from .render import render_card

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise HubkitError(f"no run directory at {run_dir}")
    record = RunRecord.load(run_dir)
    model_dir = run_dir / MODEL_SUBDIR
    card_path = Path(out) if out is not None else model_dir / "README.md"
    if card_path.is_dir():
        card_path = card_path / "README.md"
    text = render_card(record, repo_id=repo_id, template=template, plot=PLOT_FILENAME, space_id=space_id)
    card_path.parent.mkdir(parents=True, exist_ok=True)
    plot_path = write_loss_plot(
        record.loss_curve, card_path.parent / PLOT_FILENAME, record.train_loss, reuse=[run_dir / PLOT_FILENAME]
    )
    card_path.write_text(text, encoding="utf-8", newline="\n")
    return BuiltCard(card=card_path, plot=plot_path, problems=lint_card(card_path, model_dir=model_dir))
