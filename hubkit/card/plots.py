"""The loss-curve plot, drawn from the record's logged points.

Drawn with matplotlib's object API on the Agg canvas (no pyplot: no global figure state, no GUI backend), under
matplotlib's default style whatever the user's matplotlibrc says, and saved without the 'Software' PNG tag, so the
same record gives the same bytes on the same matplotlib version.

Importing and drawing with matplotlib is most of `hubkit build-card`'s run time, so the PNG carries a key (a tEXt
chunk: sha256 of the plotted numbers and of this module's drawing version). A rebuild whose plot file already has the
right key leaves it alone without importing matplotlib at all; any change in the data redraws it.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..record import LossPoint

PLOT_VERSION = "2"  # bump whenever the drawing code below changes what the PNG looks like
KEY_CHUNK = "hubkit-plot-key"


def plot_key(points: Sequence[LossPoint], train_loss: float | None = None) -> str:
    """What the plot depends on, hashed: the same key means the same picture."""
    data = {
        "version": PLOT_VERSION,
        "points": [[p.step, p.epoch, p.loss] for p in points],
        "train_loss": train_loss,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def loss_plot_png(points: Sequence[LossPoint], train_loss: float | None = None) -> bytes:
    """PNG bytes of training loss against step (epochs on a top axis when they are logged)."""
    import io

    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = [p.step for p in points]
    losses = [p.loss for p in points]
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        fig = Figure(figsize=(6.4, 3.6), dpi=100)  # fixed margins: constrained layout costs ~0.1 s per build
        fig.subplots_adjust(left=0.1, right=0.97, bottom=0.14, top=0.8)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.plot(steps, losses, marker="o", markersize=3, linewidth=1.5, label="training loss (logged)")
        if train_loss is not None:
            ax.axhline(train_loss, color="0.5", linestyle="--", linewidth=1, label=f"mean over run ({train_loss:.4g})")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title("Training loss")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper right", fontsize="small")
        if len(points) > 1 and points[-1].step > points[0].step and points[-1].epoch > points[0].epoch:
            per_step = (points[-1].epoch - points[0].epoch) / (points[-1].step - points[0].step)
            offset = points[0].epoch - per_step * points[0].step

            def to_epoch(step: Any) -> Any:
                return offset + step * per_step

            def to_step(epoch: Any) -> Any:
                return (epoch - offset) / per_step

            top = ax.secondary_xaxis("top", functions=(to_epoch, to_step))
            top.set_xlabel("epoch (approx.)")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", metadata={"Software": None, KEY_CHUNK: plot_key(points, train_loss)})
    return buffer.getvalue()


def read_plot_key(path: Path) -> str | None:
    """The key stored in a PNG written by this module, or None (no file, not a PNG, no key)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"tEXt":
            keyword, _, text = body.partition(b"\x00")
            if keyword == KEY_CHUNK.encode():
                return text.decode("latin-1")
        if kind in (b"IDAT", b"IEND"):  # matplotlib writes text chunks before the image data
            return None
        pos += 12 + length
    return None


def write_loss_plot(
    points: Sequence[LossPoint], path: Path, train_loss: float | None = None, reuse: Sequence[Path] = ()
) -> Path:
    """Write the plot unless the file there was already drawn from exactly these numbers.

    `reuse` names other PNGs drawn by this module (e.g. the run's own RUN_DIR/loss.png written at training time):
    one with the right key is copied instead of drawing again.
    """
    path = Path(path)
    key = plot_key(points, train_loss)
    if read_plot_key(path) == key:
        return path
    data = next((Path(p).read_bytes() for p in reuse if read_plot_key(Path(p)) == key), None)
    if data is None:
        data = loss_plot_png(points, train_loss)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
