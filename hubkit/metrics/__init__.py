"""The SQuAD metric hubkit ships, loaded through `evaluate` from a local folder (no Hub, works offline)."""

from __future__ import annotations

from pathlib import Path

SQUAD_METRIC_DIR = Path(__file__).resolve().parent / "squad_metric"


def load_squad_metric():
    """`evaluate.load` on the shipped `squad_metric/` folder: SQuAD v1.1 EM and F1 in percent."""
    import evaluate

    return evaluate.load(str(SQUAD_METRIC_DIR))
