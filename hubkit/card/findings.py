"""Sentences a card states as findings, computed from the record's numbers rather than written by hand.

A finding typed into a config goes stale the moment a rerun changes a number; these cannot. Scores are compared at
the precision the card shows them (two decimals of a percent), so "tie" means "a reader sees the same number".
"""

from __future__ import annotations

from collections.abc import Sequence

from ..record import SMALL_SLICE, AblationRow, LossPoint, RunRecord
from .formatting import count_word, number, oneline, percent, ratio, sci, thousands


def _shown(value: float) -> float:
    """A score as the card shows it: two decimals."""
    return round(value, 2)


def _join(parts: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def evaluation_summary(record: RunRecord) -> str:
    """The card's headline: each dataset's (task's) own score, small slices flagged, the pooled score labelled so."""
    parts = []
    for info, scores in zip(record.datasets, record.eval_by_dataset):
        detail = f"{oneline(info.task)}, {thousands(scores.num_examples)} examples"
        if scores.too_small:
            detail += f": fewer than {SMALL_SLICE}, too few to conclude from"
        parts.append(
            f"{percent(scores.exact_match)} exact match ({percent(scores.f1)} F1) on {oneline(info.name)} ({detail})"
        )
    text = f"On held-out examples it reaches {_join(parts)}"
    if len(parts) > 1:
        text += (
            f"; pooled over all {thousands(record.eval.num_examples)} examples of these datasets, "
            f"{percent(record.eval.exact_match)} exact match ({percent(record.eval.f1)} F1)"
        )
    return text + "."


def ablation_label(row: AblationRow) -> str:
    return f"r={row.r}"


def ablation_intro(rows: Sequence[AblationRow]) -> str:
    """'Three training runs (500 steps each, learning rate 3e-4) with different LoRA ranks:'."""
    same = []
    steps = {row.steps for row in rows}
    if len(steps) == 1:
        same.append(f"{rows[0].steps} step{'' if rows[0].steps == 1 else 's'} each")
    rates = {row.learning_rate for row in rows}
    if len(rates) == 1:
        same.append(f"learning rate {sci(rows[0].learning_rate)}")
    targets = {tuple(row.target_modules) for row in rows}
    if len(targets) == 1:
        same.append("LoRA on " + ", ".join(rows[0].target_modules))
    runs = "training run" if len(rows) == 1 else "training runs"
    detail = f" ({'; '.join(same)})" if same else ""
    varied = "with different LoRA ranks" if len(rows) > 1 else "of one LoRA rank"
    return f"{count_word(len(rows))} {runs}{detail} {varied}:"


def ablation_finding(rows: Sequence[AblationRow]) -> str | None:
    """One sentence: which rank is best, which is cheapest, and whether the extra parameters buy anything."""
    if not rows:
        return None
    if len(rows) == 1:
        row = rows[0]
        return (
            f"Only one rank ({ablation_label(row)}) was run, so this table measures that adapter "
            f"(pooled EM {percent(row.exact_match)}, F1 {percent(row.f1)}) but compares nothing."
        )

    def score(row: AblationRow) -> tuple[float, float]:
        return (_shown(row.f1), _shown(row.exact_match))

    best_score = max(score(row) for row in rows)
    best = [row for row in rows if score(row) == best_score]
    cheapest = min(rows, key=lambda row: (row.trainable, row.r))
    largest = max(rows, key=lambda row: (row.trainable, row.r))
    choice = min(best, key=lambda row: (row.trainable, row.r))

    if len(best) == len(rows):
        return (
            f"All {len(rows)} ranks reach the same pooled EM and F1 ({percent(choice.exact_match)} / {percent(choice.f1)}), "
            f"so {ablation_label(cheapest)} is the most efficient choice: the same scores with "
            f"{ratio(largest.trainable / max(cheapest.trainable, 1))} fewer trainable parameters than "
            f"{ablation_label(largest)}."
        )
    tied = ""
    if len(best) > 1:
        others = [ablation_label(row) for row in best if row is not choice]
        tied = f" (tied with {', '.join(others)}, which train more parameters)"
    if choice is cheapest:
        runner_up = max((row for row in rows if row not in best), key=score)
        gap = _shown(choice.f1) - _shown(runner_up.f1)
        return (
            f"{ablation_label(choice)}, the smallest adapter, scores best{tied} (pooled EM {percent(choice.exact_match)}, "
            f"F1 {percent(choice.f1)}), {gap:.2f} pooled F1 points above the next best, {ablation_label(runner_up)} "
            f"(F1 {percent(runner_up.f1)}): more trainable parameters did not help."
        )
    gap = _shown(choice.f1) - _shown(cheapest.f1)
    return (
        f"{ablation_label(choice)} scores best{tied} (pooled EM {percent(choice.exact_match)}, F1 {percent(choice.f1)}), "
        f"{gap:.2f} pooled F1 points above the smallest adapter {ablation_label(cheapest)} (F1 {percent(cheapest.f1)}), "
        f"at {ratio(choice.trainable / max(cheapest.trainable, 1))} its trainable parameters."
    )


def loss_finding(points: Sequence[LossPoint], train_loss: float) -> str:
    """Where the logged training loss started, where it ended, and its lowest point."""
    first, last = points[0], points[-1]
    mean = f"The mean training loss over the whole run is {number(train_loss)}."
    if len(points) == 1:
        return f"One loss value was logged: {number(first.loss)} at step {first.step}. {mean}"
    low = min(points, key=lambda p: (p.loss, p.step))
    direction = "fell" if last.loss < first.loss else "rose" if last.loss > first.loss else "stayed level"
    text = (
        f"Training loss {direction} from {number(first.loss)} at step {first.step} (epoch {first.epoch:.2f}) "
        f"to {number(last.loss)} at step {last.step} (epoch {last.epoch:.2f})"
    )
    if low is not first and low is not last:
        text += f", with its lowest logged value, {number(low.loss)}, at step {low.step} (epoch {low.epoch:.2f})"
    return f"{text}. {mean}"


def loss_table(points: Sequence[LossPoint], max_rows: int = 20) -> tuple[list[LossPoint], bool]:
    """The loss points the table shows: all of them, or an even sample (first and last kept) for long runs.

    Returns (points, sampled). The plot always shows every point.
    """
    if len(points) <= max_rows:
        return list(points), False
    last = len(points) - 1
    indices = sorted({round(i * last / (max_rows - 1)) for i in range(max_rows)})
    return [points[i] for i in indices], True
