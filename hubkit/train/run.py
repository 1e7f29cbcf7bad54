"""`hubkit train`, top to bottom: one experiment config in, one run folder out.

    config -> data -> base model -> LoRA train -> eval (+ baselines) -> ablation -> merge + parity -> smoke -> record

The run folder (:class:`hubkit.runfolder.RunFolder`) holds `model/` (merged weights + tokenizer: what gets
published), `adapter/` (the LoRA weights alone), `loss.png` and `record.json` (every number the card shows). Each step
returns the record's own types, so a wrong field fails at that step, not after a whole training run. The run is
written into a hidden sibling folder and swapped in only once the merge parity check passed and the record is
written: a failed, interrupted or killed run leaves the previous run at `--out` exactly as it was.

Under `accelerate launch` every process runs this function so the Trainer can shard the training batches; only the
main process evaluates, merges and writes.
"""

from __future__ import annotations

import copy
import os
import platform
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Optional

from .. import __version__
from ..errors import HubkitError
from ..record import (
    AblationRow,
    BaseModelInfo,
    DatasetEval,
    EvalMetrics,
    Hardware,
    HeldOut,
    LossPoint,
    MergeCheck,
    ParameterCounts,
    Provenance,
    RunRecord,
    SliceScores,
    TrainingArgs,
    Versions,
)
from ..runfolder import RunFolder
from .config import PKG_PREFIX, TINY_PATH, ExperimentConfig, load_config

# Eval-set examples the merge parity check runs on, besides the smoke examples.
PARITY_EVAL_EXAMPLES = 8
# Largest |logit difference| between the merged model and the adapter model that still counts as the same model.
MERGE_PARITY_TOLERANCE = 1e-3


def run_experiment(
    config_path: str | Path,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    progress: bool = True,
    say: Callable[[str], None] = lambda message: None,
) -> Optional[RunRecord]:
    """Run the experiment in `config_path`, write `out_dir/{model,adapter,loss.png,record.json}`, return the record.

    `out_dir` is replaced only by a finished run (see hubkit.runfolder); without `overwrite` it must be empty or
    absent. Returns None on the non-main processes of a multi-process launch.
    """
    from transformers import set_seed

    from ..card.plots import write_loss_plot
    from . import distributed
    from .baselines import baselines
    from .data import prepare_data
    from .evaluation import evaluate_qa, tokenize_for_eval
    from .lora import build_lora_model, lora_info, parameter_counts
    from .merge import parity_check, save_adapter, save_merged
    from .per_dataset import label_sets, slice_scores, with_baselines
    from .provenance import checkout_provenance
    from .smoke import run_smoke
    from .timing import StageTimer
    from .trainer import plan_training, train_lora

    timer = StageTimer()
    config = load_config(config_path)
    folder = RunFolder(out_dir)
    is_main = distributed.is_main()
    if is_main:
        folder.check_writable(overwrite=overwrite)  # before any work; nothing is changed yet
    else:
        say, progress = (lambda message: None), False
    distributed.quiet_unless_main()
    check_base_model(config)
    training = config.training

    # 1. data: SQuAD-form examples, duplicates dropped, seeded split
    say(f"[1/7] data: {', '.join(d.name for d in config.datasets)}")
    with timer.stage("data"):
        data = prepare_data(
            config.datasets, seed=config.split.seed, eval_fraction=config.split.eval_fraction, base_dir=config.folder
        )
    say(f"      {len(data.train)} train / {len(data.eval)} eval examples")

    # 2. the base model (Hub id, local folder, or random weights from its config) and its tokenizer
    say(f"[2/7] base model: {config.base_model.id}")
    with timer.stage("data"):  # read and tokenized once: the main run, the ablation and every evaluation reuse these
        base, tokenizer, base_source, base_revision = load_base(config)
        train_features = tokenize_for_training(data.train, tokenizer, config)
        eval_features = (
            tokenize_for_eval(data.eval, tokenizer, max_length=training.max_length, doc_stride=training.doc_stride)
            if is_main
            else None
        )

    def eval_model(model):
        return evaluate_qa(
            model,
            tokenizer,
            data.eval,
            features=eval_features,
            max_length=training.max_length,
            doc_stride=training.doc_stride,
            batch_size=config.eval.batch_size,
            n_best=config.eval.n_best,
            max_answer_length=config.eval.max_answer_length,
            progress=progress,
            label_sets=label_sets(config.datasets),
        )

    # 3. the main LoRA run
    lora = config.lora
    set_seed(training.seed)
    model = build_lora_model(
        copy.deepcopy(base),
        r=lora.r,
        alpha=lora.alpha,
        dropout=lora.dropout,
        target_modules=lora.target_modules,
        base_model_id=config.base_model.id,
    )
    trainable, total = parameter_counts(model)
    say(
        f"[3/7] LoRA r={lora.r} on {', '.join(lora.target_modules)}: {trainable:,} of {total:,} parameters trained "
        f"({100 * trainable / total:.2f}%)"
    )
    plan = plan_training(model, tokenizer, train_features, training)
    b = plan.batches
    say(
        f"      {plan.world_size} process(es) x micro-batch {b.micro} x grad-accum {b.accumulation} "
        f"(configured {b.configured_micro} x {b.configured_accumulation}); precision {plan.precision.executed} "
        f"({plan.precision.reason})"
    )
    with timer.stage("train"):
        trained = train_lora(model, tokenizer, train_features, training, plan, progress=progress)

    # 4. evaluation, with trivial baselines beside it
    with timer.stage("eval"):
        evaluation = eval_model(model) if is_main else None
    if evaluation is not None:
        say(
            f"[4/7] eval: EM {evaluation.exact_match:.2f}  F1 {evaluation.f1:.2f}  on {evaluation.num_examples} examples"
        )
        for part in evaluation.by_dataset:
            say(
                f"      {part['dataset']}: EM {part['exact_match']:.2f}  F1 {part['f1']:.2f}  on {part['num_examples']}"
            )

    # 5. ablation: one short run per rank on the same data (alpha/r kept as in the main run)
    ablation: list[AblationRow] = []
    if config.ablation is not None:
        ab = config.ablation
        targets = ab.target_modules or lora.target_modules
        learning_rate = ab.learning_rate or training.learning_rate
        for rank in ab.ranks:
            alpha = lora.alpha * rank / lora.r
            say(f"[5/7] ablation r={rank}: {ab.max_steps} steps")
            set_seed(training.seed)
            row_model = build_lora_model(
                copy.deepcopy(base), r=rank, alpha=alpha, dropout=lora.dropout, target_modules=targets
            )
            row_trainable, row_total = parameter_counts(row_model)
            with timer.stage("ablation"):
                row_train = train_lora(
                    row_model,
                    tokenizer,
                    train_features,
                    training,
                    plan,
                    max_steps=ab.max_steps,
                    learning_rate=learning_rate,
                    progress=progress,
                )
                row_eval = eval_model(row_model) if is_main else None
            if row_eval is not None:
                ablation.append(
                    AblationRow(
                        r=rank,
                        alpha=alpha,
                        target_modules=list(targets),
                        learning_rate=learning_rate,
                        steps=row_train.steps,
                        trainable=row_trainable,
                        total=row_total,
                        train_loss=row_train.train_loss,
                        eval_loss=row_eval.eval_loss,
                        exact_match=row_eval.exact_match,
                        f1=row_eval.f1,
                        by_dataset=[SliceScores(**s) for s in slice_scores(row_eval.by_dataset)],
                    )
                )
            del row_model
    if not is_main or evaluation is None:
        return None  # a non-main process of a multi-process launch: the main process evaluates, merges and writes

    # 6-7: written into a hidden sibling of `out_dir`, swapped in once complete
    with folder.build(overwrite=overwrite) as partial:
        out = RunFolder(partial)
        # 6. adapter + merged model, and the parity check as pipeline() runs the merged model
        say(f"[6/7] merge -> {folder.model_dir}")
        with timer.stage("merge"):
            save_adapter(model, out.adapter_dir)
            save_merged(model, tokenizer, out.model_dir)
        smoke_inputs = [e.model_dump() for e in config.smoke_examples]
        eval_pairs = [
            {"question": q, "context": c}
            for q, c in zip(data.eval["question"][:PARITY_EVAL_EXAMPLES], data.eval["context"][:PARITY_EVAL_EXAMPLES])
        ]
        device = next(model.parameters()).device
        with timer.stage("merge"):
            merge = parity_check(model, out.model_dir, eval_pairs + smoke_inputs)
        say(f"      merged vs adapter max |logit diff| = {merge.max_abs_logit_diff:.2e}")
        if merge.max_abs_logit_diff > MERGE_PARITY_TOLERANCE:
            raise HubkitError(
                f"merge parity check failed: the merged model's logits differ from the adapter model's by "
                f"{merge.max_abs_logit_diff:.2e} (> {MERGE_PARITY_TOLERANCE:g}); {folder.root} was left as it was"
            )

        # 7. smoke examples through pipeline("question-answering") on the saved model
        say("[7/7] smoke examples")
        with timer.stage("smoke"):
            smoke = run_smoke(out.model_dir, smoke_inputs, device=device)

        record = RunRecord(
            run_name=folder.name,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            config_hash=config.config_hash(),
            base_model=BaseModelInfo(
                id=config.base_model.id,
                revision=base_revision,
                source=base_source,
                architecture=merge.architecture,
                model_type=merge.model_type,
            ),
            datasets=data.infos,
            lora=lora_info(model),
            parameters=ParameterCounts(trainable=trainable, total=total),
            training=TrainingArgs(  # the executed split and precision override the configured ones
                **{**training.model_dump(), **plan.record_fields(), "num_processes": trained.num_processes}
            ),
            hardware=Hardware(
                device=_device_name(trained.num_processes),
                wall_time_seconds=round(trained.wall_time_seconds, 2),
                total_seconds=round(timer.total, 2),
                stage_seconds=timer.rounded(),
            ),
            loss_curve=[LossPoint(**point) for point in trained.loss_curve],
            train_loss=trained.train_loss,
            eval=EvalMetrics(
                exact_match=evaluation.exact_match,
                f1=evaluation.f1,
                eval_loss=evaluation.eval_loss,
                num_examples=evaluation.num_examples,
            ),
            baselines=baselines(data.eval),
            eval_by_dataset=[DatasetEval(**e) for e in with_baselines(evaluation.by_dataset, data.eval)],
            held_out=HeldOut(eval_fraction=config.split.eval_fraction, seed=config.split.seed),
            provenance=Provenance(**checkout_provenance(config_path)),
            ablation=ablation,
            merge=MergeCheck(max_abs_logit_diff=merge.max_abs_logit_diff, num_examples=merge.num_examples),
            smoke_examples=smoke,
            card=config.card,
            versions=_versions(),
        )
        record.save(out.record_path)
        # The loss plot, drawn from the record; build-card reuses it when its numbers match, so the often-run card
        # build need not import matplotlib.
        write_loss_plot(record.loss_curve, out.plot_path, record.train_loss)
    return record


# --- steps ----------------------------------------------------------------------------------------------------------


def load_base(config: ExperimentConfig):
    """(model, tokenizer, source, revision): the QA model to adapt, from the Hub, a local folder, or random init.

    A base without a QA head (e.g. a sentence encoder) gets a freshly initialised one, seeded by training.seed.
    """
    from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoTokenizer, set_seed

    spec = config.base_model
    with tempfile.TemporaryDirectory(prefix="hubkit-base-") as scratch:
        if spec.path is None:
            where, revision, source = spec.id, spec.revision, "hub"
        else:
            where, revision = _local_base(spec.path, config, scratch, with_weights=not spec.random_init), None
            source = "local"
        if spec.random_init:
            source = "random_init"
        set_seed(config.training.seed)
        try:
            tokenizer = AutoTokenizer.from_pretrained(where, revision=revision)
            if spec.random_init:
                model = AutoModelForQuestionAnswering.from_config(AutoConfig.from_pretrained(where, revision=revision))
            else:
                model = AutoModelForQuestionAnswering.from_pretrained(where, revision=revision)
        except (OSError, ValueError, KeyError) as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise HubkitError(f"could not load base model {spec.path or spec.id}: {first_line}") from None
    if not tokenizer.is_fast:
        raise HubkitError(f"base model {spec.id}: a fast tokenizer is needed (offset mappings for answer spans)")
    if source == "hub" and revision is None:
        revision = getattr(model.config, "_commit_hash", None)  # the commit the Hub resolved
    return model, tokenizer, source, revision


def check_base_model(config: ExperimentConfig) -> None:
    """A `base_model.path` that cannot work is a one-line error before data prep, not after it."""
    path = config.base_model.path
    if path is None or path == TINY_PATH:
        return
    if path.startswith(PKG_PREFIX):
        _pkg_module(path)
    else:
        _model_folder(path, config)


def _pkg_module(path: str):
    import importlib

    module_name = path[len(PKG_PREFIX) :]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise HubkitError(f"base_model.path {path}: package {module_name} is not installed") from None
    if not hasattr(module, "get_model_path"):
        raise HubkitError(f"base_model.path {path}: {module_name} has no get_model_path()")
    return module


def _model_folder(path: str, config: ExperimentConfig) -> Path:
    folder = config.resolve(path)
    if not (folder / "config.json").is_file():
        raise HubkitError(f"base_model.path {path}: no model folder (config.json) at {folder}")
    return folder


def _local_base(path: str, config: ExperimentConfig, scratch: str, *, with_weights: bool) -> str:
    if path == TINY_PATH:
        from .tiny import write_tiny_base

        return str(write_tiny_base(Path(scratch) / "tiny", with_weights=with_weights, seed=config.training.seed))
    if path.startswith(PKG_PREFIX):
        return str(_pkg_module(path).get_model_path())
    return str(_model_folder(path, config))


def tokenize_for_training(examples, tokenizer, config: ExperimentConfig):
    """SQuAD windows with answer token positions, unpadded (the collator pads per batch)."""
    from .features import prepare_train_features

    return examples.map(
        prepare_train_features,
        batched=True,
        remove_columns=examples.column_names,
        fn_kwargs={
            "tokenizer": tokenizer,
            "max_length": config.training.max_length,
            "doc_stride": config.training.doc_stride,
        },
        load_from_cache_file=False,
        desc="Tokenizing train examples",
    )


def _device_name(num_processes: int) -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} x{num_processes}"
    cores = os.cpu_count() or 1
    name = f"CPU ({cores} cores)"
    return name if num_processes == 1 else f"{name} x{num_processes} processes"


def _versions() -> Versions:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return Versions(
        python=platform.python_version(),
        torch=version("torch"),
        transformers=version("transformers"),
        peft=version("peft"),
        datasets=version("datasets"),
        hubkit=__version__,
    )
