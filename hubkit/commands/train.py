"""`hubkit train`: run an experiment config, write the run folder, print a summary."""

from __future__ import annotations

import contextlib
import json
import sys

import click

from ..runfolder import RunFolder


@click.command()
@click.option(
    "--config", "config_path", required=True, type=click.Path(), help="experiment config, e.g. pipeline/finance_qa.yaml"
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(),
    help="run folder to write: model/, adapter/, loss.png, record.json",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="replace the run already in --out, once the new one is complete (a failed run leaves it whole)",
)
@click.option("--json", "as_json", is_flag=True, help="print the run record as JSON on stdout")
@click.option("--quiet", is_flag=True, help="no progress bars")
def train(config_path: str, out_dir: str, overwrite: bool, as_json: bool, quiet: bool) -> None:
    """Fine-tune with LoRA as the config says; evaluate, ablate, merge, smoke-test and record the run."""
    import datasets
    from transformers.utils import logging as hf_logging

    from ..train.distributed import relaunch_accelerate_cpu
    from ..train.run import run_experiment

    relaunch_accelerate_cpu()  # `accelerate launch --cpu --num_processes N` started one process: start the N
    # Progress goes to stderr: the training and eval bars stay, the many short loading bars go.
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()

    def say(message: str) -> None:
        click.echo(message, err=True)

    with contextlib.redirect_stdout(sys.stderr):  # libraries that print (the Trainer's loss logs) keep stdout clean
        record = run_experiment(config_path, out_dir, overwrite=overwrite, progress=not quiet, say=say)
    if record is None:  # a non-main process of a multi-process launch
        return
    if as_json:
        click.echo(json.dumps(record.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    p = record.parameters
    click.echo(
        f"run {record.run_name}: {record.base_model.id} + LoRA r={record.lora.r} "
        f"({p.trainable:,} of {p.total:,} parameters trained, {p.percent:.2f}%)"
    )
    click.echo(f"  data: {record.rows_train} train / {record.rows_eval} eval examples")
    click.echo(
        f"  eval: EM {record.eval.exact_match:.2f}  F1 {record.eval.f1:.2f}  "
        f"loss {record.eval.eval_loss if record.eval.eval_loss is None else round(record.eval.eval_loss, 4)}"
    )
    for b in record.baselines:
        click.echo(f"  baseline {b.name}: EM {b.exact_match:.2f}  F1 {b.f1:.2f}")
    for row in record.ablation:
        click.echo(f"  ablation r={row.r}: EM {row.exact_match:.2f}  F1 {row.f1:.2f}  train loss {row.train_loss:.4f}")
    click.echo(f"  merge parity: max |logit diff| {record.merge.max_abs_logit_diff:.2e}")
    click.echo(f"  training wall time {record.hardware.wall_time_seconds:.1f} s on {record.hardware.device}")
    run = RunFolder(out_dir)
    click.echo(f"  wrote {run.model_dir}, {run.adapter_dir}, {run.plot_path}, {run.record_path}")
