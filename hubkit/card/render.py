"""Render a model card from a run record with Jinja2.

Two environments share one set of filters and one context:
- the built-in template (`hubkit/templates/model_card.md.j2`, shipped inside the package as package data) loads with a FileSystemLoader;
- a user's `--template` renders in a `SandboxedEnvironment`: a card template is input, not code, and must not reach
  Python internals. It can still `{% import "macros.md.j2" %}` the built-in macros.
Both use `StrictUndefined`, so a missing value stops the build with its name instead of leaving an empty cell.

The context is plain data (the record as JSON-ready dicts plus derived numbers and findings), never live objects:
rendering cannot mutate or save anything, and it is deterministic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from ..errors import HubkitError
from ..record import SMALL_SLICE, RunRecord
from ..runfolder import PLOT_FILENAME
from . import findings
from .formatting import FILTERS
from .metadata import DEFAULT_CONFIG, front_matter, held_out_description, is_hub_id
from .usage import render_usage_snippet

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
DEFAULT_TEMPLATE = "model_card.md.j2"


def _env_options() -> dict[str, Any]:
    return dict(
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML; table cells are escaped by the `cell` filter
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


MAX_TEMPLATE_SEQUENCE = 1_000_000  # longest string/list a user template may build with `*`
MAX_TEMPLATE_EXPONENT = 1_000  # largest exponent `**` may take in a user template


class _CardSandbox(SandboxedEnvironment):
    """The sandbox, plus bounds on `*` and `**`, so `'a' * 10**10` is refused instead of exhausting memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_TEMPLATE_SEQUENCE:
                    raise jinja2.exceptions.SecurityError(f"a sequence longer than {MAX_TEMPLATE_SEQUENCE:,} items")
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_TEMPLATE_EXPONENT:
            raise jinja2.exceptions.SecurityError(f"an exponent above {MAX_TEMPLATE_EXPONENT:,}")
        return super().call_binop(context, operator, left, right)


def make_environment(template_dir: Path | None = None) -> jinja2.Environment:
    """The built-in environment, or a sandboxed one that looks in `template_dir` first, then the built-ins."""
    if template_dir is None:
        env: jinja2.Environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), **_env_options())
    else:
        env = _CardSandbox(loader=jinja2.FileSystemLoader([str(template_dir), str(TEMPLATES_DIR)]), **_env_options())
    env.filters.update(FILTERS)
    return env


def card_context(
    record: RunRecord, repo_id: str | None = None, plot: str | None = PLOT_FILENAME, space_id: str | None = None
) -> dict[str, Any]:
    """Everything a template may use: the record as data, with derived values placed beside the raw ones."""
    data = record.model_dump(mode="json")
    data["parameters"]["percent"] = record.parameters.percent
    data["training"]["effective_batch_size"] = record.training.effective_batch_size
    data["rows_read"] = sum(d.rows_read for d in record.datasets)
    data["rows_dropped"] = sum(d.rows_dropped for d in record.datasets)
    data["rows_train"] = record.rows_train
    data["rows_eval"] = record.rows_eval
    for row, model in zip(data["datasets"], record.datasets):
        row["is_hub_id"] = is_hub_id(model.name)
    for row, ablated in zip(data["ablation"], record.ablation):
        row["percent"] = ablated.percent
    data["held_out"]["description"] = held_out_description(record)
    data["held_out"]["percent"] = record.held_out.eval_fraction * 100
    for row, info, scores in zip(data["eval_by_dataset"], record.datasets, record.eval_by_dataset):
        row.update(
            task=info.task,
            format=info.format,
            is_hub_id=is_hub_id(info.name),
            too_small=scores.too_small,
            rows_eval=info.rows_eval,
            hub_config=info.hub_config or (DEFAULT_CONFIG if info.hub_split else None),
            hub_split=info.hub_split,
        )
        for label_row, label in zip(row["labels"] or [], scores.labels or []):
            label_row["accuracy"] = label.accuracy
    loss_rows, sampled = findings.loss_table(record.loss_curve)
    return {
        "record": data,
        "repo_id": repo_id or record.card.model_name,
        "front_matter": front_matter(record),
        "small_slice": SMALL_SLICE,
        "findings": {
            "evaluation": findings.evaluation_summary(record),
            "ablation_intro": findings.ablation_intro(record.ablation) if record.ablation else None,
            "ablation": findings.ablation_finding(record.ablation),
            "loss": findings.loss_finding(record.loss_curve, record.train_loss),
        },
        "loss_rows": [p.model_dump(mode="json") for p in loss_rows],
        "loss_sampled": sampled,
        "plot": plot,
        "usage_snippet": render_usage_snippet(repo_id or record.card.model_name, "main"),
        "space_id": space_id,  # the model's demo Space (`hubkit space`), linked as "Try it" when set
    }


def render_card(
    record: RunRecord,
    *,
    repo_id: str | None = None,
    template: str | Path | None = None,
    plot: str | None = PLOT_FILENAME,
    space_id: str | None = None,
) -> str:
    """The card's Markdown (front matter included). Same record and arguments -> same string.

    `repo_id` is what the usage snippet loads (default: `record.card.model_name`); `template` is a user template
    file (sandboxed); `plot` is the loss plot's path relative to the card, or None when there is no plot; `space_id`
    is the model's demo Space, which the card links when given.
    Raises HubkitError (one line) for a missing/broken template or a value the template needs but does not get.
    """
    if repo_id is not None and not is_hub_id(repo_id):
        raise HubkitError(f"repo id {repo_id!r} is not a Hub repo id (namespace/name)")
    if template is None:
        env, name = make_environment(), DEFAULT_TEMPLATE
    else:
        path = Path(template)
        if not path.is_file():
            raise HubkitError(f"no template file at {path}")
        env, name = make_environment(path.parent), path.name
    context = card_context(record, repo_id=repo_id, plot=plot, space_id=space_id)
    try:
        text = env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise HubkitError(f"template {exc.filename or name} line {exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise HubkitError(f"template {name}: undefined value: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise HubkitError(f"template {name}: cannot find template {exc.name!r}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise HubkitError(f"template {name}: not allowed in a card template: {exc}") from None
    except jinja2.TemplateError as exc:
        raise HubkitError(f"template {name}: {exc}") from None
    except (ArithmeticError, MemoryError, RecursionError, ValueError, TypeError, LookupError) as exc:
        if template is None:
            raise  # the built-in template failing is a bug in hubkit, not bad input
        what = " ".join(str(exc).split())[:120]
        raise HubkitError(f"template {name}: rendering failed: {type(exc).__name__}: {what}") from None
    return text if text.endswith("\n") else text + "\n"
