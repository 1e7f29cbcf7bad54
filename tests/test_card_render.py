"""Rendering the model card: golden files, determinism, filters, findings, metadata, Jinja behaviour."""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path

import pytest
from huggingface_hub import ModelCard
from huggingface_hub.repocard import REGEX_YAML_BLOCK as HUB_REGEX_YAML_BLOCK
from huggingface_hub.utils import HFValidationError, validate_repo_id

from hubkit.card import formatting, lint
from hubkit.card.findings import ablation_finding, loss_finding, loss_table
from hubkit.card.metadata import is_hub_id
from hubkit.card.plots import loss_plot_png, plot_key, read_plot_key
from hubkit.card.render import render_card
from hubkit.errors import HubkitError
from hubkit.record import AblationRow, RunRecord

from .conftest import FIXTURES

GOLDEN = FIXTURES.parent / "golden"
REFERENCE = FIXTURES / "reference_record.json"
SMALL = FIXTURES / "small_record.json"
REFERENCE_REPO = "Aditya020705/distilbert-lora-finance-qa"

# (fixture record, repo id the card is rendered for, expected card)
GOLDEN_CASES = [
    (REFERENCE, REFERENCE_REPO, GOLDEN / "reference_card.md"),
    (SMALL, None, GOLDEN / "small_card.md"),
]


def assert_matches_golden(text: str, golden) -> None:
    """Fail on any difference, showing a unified diff. HUBKIT_UPDATE_GOLDEN=1 rewrites the file instead."""
    if os.environ.get("HUBKIT_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8", newline="\n")
        pytest.skip(f"rewrote {golden.name}: review the diff before committing")
    expected = golden.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True), text.splitlines(keepends=True), str(golden), "rendered", n=2
            )
        )
        pytest.fail(f"rendered card differs from {golden.name} (HUBKIT_UPDATE_GOLDEN=1 to accept):\n{diff}")


@pytest.mark.parametrize("record_path, repo_id, golden", GOLDEN_CASES, ids=["reference", "small"])
def test_golden_card(record_path, repo_id, golden):
    text = render_card(RunRecord.load(record_path), repo_id=repo_id)
    assert_matches_golden(text, golden)


@pytest.mark.parametrize("record_path, repo_id, golden", GOLDEN_CASES, ids=["reference", "small"])
def test_golden_cards_lint_clean_and_render_deterministically(record_path, repo_id, golden):
    record = RunRecord.load(record_path)
    first = render_card(record, repo_id=repo_id)
    # a fresh load of the same file renders the same bytes
    assert render_card(RunRecord.load(record_path), repo_id=repo_id).encode() == first.encode()
    assert lint.lint_text(first) == []


def test_reference_card_carries_the_reference_numbers():
    """The reference's own figures, as the record holds them, land in the card's sections."""
    record = RunRecord.load(REFERENCE)
    text = render_card(record, repo_id=REFERENCE_REPO)
    p = record.parameters
    assert f"only {p.trainable:,} parameters were trained out of {p.total:,} total ({p.percent:.2f}%)" in text
    assert f"| **Total** | | | {sum(d.rows_read for d in record.datasets):,} |" in text
    assert f"**{record.rows_train:,}** | **{record.rows_eval:,}**" in text
    assert f"| Exact Match (EM) | {record.eval.exact_match:.2f}% |" in text
    assert f"| Eval loss | {record.eval.eval_loss:g} |" in text
    assert "| Training time | 1 h 43 min |" in text  # 6180 s
    assert f"effective batch = {record.training.effective_batch_size}" in text
    for row in record.ablation:
        assert f"| r={row.r} | {row.alpha:g} | {row.trainable:,} ({row.percent:.2f}%) |" in text
    for ex in record.smoke_examples:
        assert f"# -> {ex.answer}\n" in text and f"# -> {ex.score:.4f}\n" in text
    assert f'model="{REFERENCE_REPO}"' in text
    for point in record.loss_curve:
        assert f"| {point.step} | {point.epoch:.2f} | {point.loss:g} |" in text
    for item in record.card.limitations:
        assert f"- {item}\n" in text
    assert "![Training loss per step](loss.png)" in text
    assert "## Baselines" not in text and "Baselines:" not in text  # none in the record: the section is omitted


def test_small_card_omits_ablation_and_shows_baselines():
    record = RunRecord.load(SMALL)
    text = render_card(record)
    assert "Ablation" not in text and "Finding:" not in text
    header = next(line for line in text.splitlines() if line.startswith("| Metric |"))
    assert header == "| Metric | This model | first word | longest sentence \\| naive |"
    assert "Eval loss" not in text.split("## Evaluation results")[1].split("## How to use")[0]  # eval_loss is null
    assert f'model="{record.card.model_name}"' in text  # repo_id defaults to the card's model name


def _split_row(line: str) -> list[str]:
    return re.split(r"(?<!\\)\|", line.strip()[1:-1])


def test_table_cells_cannot_break_tables():
    """A `|` or newline in a dataset name, task or baseline name stays inside its cell."""
    text = render_card(RunRecord.load(SMALL))
    tables: list[list[str]] = []
    previous = ""
    for line in text.split("---\n", 2)[2].splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(line)
        previous = line
    assert len(tables) >= 6
    for table in tables:
        widths = {len(_split_row(row)) for row in table}
        assert len(widths) == 1, table
    assert "| acme/finance-faq \\| v2<br>(internal) | Financial QA \\| FAQ |" in text


def test_front_matter_parses_with_huggingface_hub():
    for path in (REFERENCE, SMALL):
        record = RunRecord.load(path)
        card = ModelCard(render_card(record))
        data = card.data
        assert data.base_model == record.base_model.id
        assert data.base_model_relation == "finetune"
        assert data.library_name == "transformers"
        assert data.pipeline_tag == "question-answering"
        assert data.license == record.card.license
        assert data.language == record.card.language  # 'no' stays the string "no", not False
        # one result per Hub dataset, with that dataset's own scores
        indexed = [(d, e) for d, e in zip(record.datasets, record.eval_by_dataset) if is_hub_id(d.name)]
        scores = {(r.dataset_type, r.metric_type): r.metric_value for r in data.eval_results or []}
        assert scores == {
            **{(d.name, "exact_match"): e.exact_match for d, e in indexed},
            **{(d.name, "f1"): e.f1 for d, e in indexed},
        }
    # only Hub ids go into `datasets`; the small fixture's local dataset name is not one
    assert ModelCard(render_card(RunRecord.load(REFERENCE))).data.datasets == [
        d.name for d in RunRecord.load(REFERENCE).datasets
    ]
    assert ModelCard(render_card(RunRecord.load(SMALL))).data.datasets is None


def test_local_copies_of_library_rules_agree_with_huggingface_hub():
    """lint and metadata restate two huggingface_hub rules to keep build-card fast; they must not drift."""
    assert lint.REGEX_YAML_BLOCK.pattern == HUB_REGEX_YAML_BLOCK.pattern
    samples = [
        "a",
        "a/b",
        "distilbert/distilbert-base-uncased",
        "-a",
        "a-",
        ".a",
        "a.",
        "a--b",
        "a..b",
        "x.git",
        "a/b/c",
        "/a",
        "./a",
        "~/a",
        "a\\b",
        "C:/x",
        "_a",
        "café",
        "a b",
        "x" * 96,
        "x" * 97,
        "a/",
        "",
        "FinanceMTEB/financial_phrasebank",
        "acme/finance-faq | v2",
    ]

    def hub_says(value: str) -> bool:
        try:
            validate_repo_id(value)
        except HFValidationError:
            return False
        return True

    assert [is_hub_id(s) for s in samples] == [hub_says(s) for s in samples]


# --- filters -------------------------------------------------------------------------------------------------------


def test_number_filters():
    assert formatting.percent(100 * 148994 / 66513412) == "0.22%"
    assert formatting.percent(0.004) == "0.004%"  # never '0.00%' for a non-zero share
    assert formatting.percent(99.5) == "99.50%"
    assert formatting.sci(0.0003) == "3e-4" and formatting.sci(2e-5) == "2e-5" and formatting.sci(0.01) == "0.01"
    assert formatting.sci(16.0) == "16" and formatting.sci(3.2e-6) == "3.2e-6"
    assert formatting.number(0.0218) == "0.0218" and formatting.number(0.1497) == "0.1497"
    assert formatting.thousands(66513412) == "66,513,412"
    assert [formatting.duration(s) for s in (42, 725.4, 6180, 97200)] == [
        "42 s",
        "12 min 5 s",
        "1 h 43 min",
        "27 h 0 min",
    ]
    assert formatting.ratio(296450 / 75266) == "3.9x" and formatting.ratio(4.0) == "4x"


def test_cell_and_text_filters():
    assert formatting.cell("a | b\nc") == "a \\| b<br>c"
    assert formatting.cell("already \\| escaped") == "already \\\\\\| escaped"
    assert formatting.oneline(" a\n  b\tc ") == "a b c"
    assert formatting.sentence("a span") == "a span." and formatting.sentence("Done!") == "Done!"
    literal = formatting.pystr('say "hi"\n\\ok')
    assert eval(literal) == 'say "hi"\n\\ok'  # a valid Python string literal with the same value


# --- findings ------------------------------------------------------------------------------------------------------


def _rows(*specs) -> list[AblationRow]:
    """Ablation rows (r, trainable, em, f1) on a fixed total."""
    return [
        AblationRow(
            r=r,
            alpha=2 * r,
            target_modules=["q_lin", "v_lin"],
            learning_rate=3e-4,
            steps=500,
            trainable=trainable,
            total=66_000_000 + trainable,
            train_loss=0.05,
            eval_loss=0.02,
            exact_match=em,
            f1=f1,
        )
        for r, trainable, em, f1 in specs
    ]


def test_ablation_finding_all_tie_names_the_cheapest():
    record = RunRecord.load(REFERENCE)
    finding = ablation_finding(record.ablation)
    assert finding.startswith("All 3 ranks reach the same pooled EM and F1 (99.50% / 99.50%)")
    ratio = formatting.ratio(record.ablation[-1].trainable / record.ablation[0].trainable)
    assert "r=4 is the most efficient choice" in finding and f"{ratio} fewer trainable parameters than r=16" in finding


def test_ablation_finding_when_the_larger_rank_wins():
    finding = ablation_finding(_rows((4, 100, 80.0, 85.0), (8, 200, 82.0, 87.5), (16, 400, 81.0, 86.0)))
    assert finding.startswith(
        "r=8 scores best (pooled EM 82.00%, F1 87.50%), 2.50 pooled F1 points above the smallest adapter r=4"
    )
    assert "at 2x its trainable parameters" in finding


def test_ablation_finding_when_the_smallest_rank_wins():
    finding = ablation_finding(_rows((4, 100, 90.0, 92.0), (8, 200, 85.0, 90.0)))
    assert finding.startswith("r=4, the smallest adapter, scores best")
    assert "2.00 pooled F1 points above the next best, r=8" in finding


def test_ablation_finding_partial_tie_prefers_the_cheaper_of_the_tied():
    finding = ablation_finding(_rows((4, 100, 70.0, 75.0), (8, 200, 80.0, 85.001), (16, 400, 80.0, 84.999)))
    assert finding.startswith("r=8 scores best (tied with r=16, which train more parameters)")


def test_ablation_finding_single_row_and_none():
    assert "Only one rank (r=4)" in ablation_finding(_rows((4, 100, 70.0, 75.0)))
    assert ablation_finding([]) is None


def test_loss_finding_and_table_sampling():
    record = RunRecord.load(REFERENCE)
    text = loss_finding(record.loss_curve, record.train_loss)
    assert text.startswith("Training loss fell from 0.334 at step 50 (epoch 0.85) to 0.077 at step 150")
    assert "lowest logged value, 0.073, at step 100" in text and text.endswith("is 0.1497.")
    small = RunRecord.load(SMALL)
    rows, sampled = loss_table(small.loss_curve, max_rows=20)
    assert sampled and len(rows) == 20 and rows[0] == small.loss_curve[0] and rows[-1] == small.loss_curve[-1]
    assert loss_table(record.loss_curve) == (list(record.loss_curve), False)


# --- plot ----------------------------------------------------------------------------------------------------------


def test_plot_is_deterministic_and_keyed():
    record = RunRecord.load(REFERENCE)
    png = loss_plot_png(record.loss_curve, record.train_loss)
    assert png.startswith(b"\x89PNG") and png == loss_plot_png(record.loss_curve, record.train_loss)
    assert b"Software" not in png  # no matplotlib version stamp
    assert plot_key(record.loss_curve, record.train_loss) != plot_key(record.loss_curve[:2], record.train_loss)


def test_plot_key_round_trips(tmp_path):
    record = RunRecord.load(REFERENCE)
    path = tmp_path / "loss.png"
    path.write_bytes(loss_plot_png(record.loss_curve, record.train_loss))
    assert read_plot_key(path) == plot_key(record.loss_curve, record.train_loss)
    path.write_bytes(b"not a png")
    assert read_plot_key(path) is None


# --- Jinja: strictness, sandbox, user templates ---------------------------------------------------------------------


def test_user_template_can_use_the_built_in_macros(tmp_path):
    template = tmp_path / "mine.md.j2"
    template.write_text(
        '{% import "macros.md.j2" as m %}---\n{{ front_matter }}\n---\n\n# {{ record.card.model_name }} by me\n\n'
        "{% for e in record.eval_by_dataset %}## {{ e.dataset }}\n\n{{ m.dataset_eval(e, record.held_out, small_slice) }}"
        "\n\n{% endfor %}## Pooled\n\n{{ m.eval_table(record) }}\n",
        encoding="utf-8",
    )
    record = RunRecord.load(REFERENCE)
    text = render_card(record, template=template)
    assert "# distilbert-lora-finance-qa by me" in text
    assert "| Exact Match (EM) | 99.50% |" in text
    assert lint.lint_text(text) == []


def test_unknown_variable_fails_naming_it(tmp_path):
    template = tmp_path / "bad.md.j2"
    template.write_text("{{ record.eval.accuracy }}\n", encoding="utf-8")
    with pytest.raises(HubkitError, match="undefined value: .*'accuracy'"):
        render_card(RunRecord.load(REFERENCE), template=template)


def test_template_syntax_error_is_one_line(tmp_path):
    template = tmp_path / "broken.md.j2"
    template.write_text("line one\n{% if record %}\nunclosed\n", encoding="utf-8")
    with pytest.raises(HubkitError) as info:
        render_card(RunRecord.load(REFERENCE), template=template)
    assert "broken.md.j2 line" in str(info.value) and "\n" not in str(info.value)


def test_user_template_is_sandboxed(tmp_path):
    template = tmp_path / "evil.md.j2"
    template.write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}\n", encoding="utf-8")
    with pytest.raises(HubkitError, match="not allowed|undefined"):
        render_card(RunRecord.load(REFERENCE), template=template)


def test_templates_ship_inside_the_package():
    import hubkit
    from hubkit.card.render import TEMPLATES_DIR

    assert TEMPLATES_DIR.parent == Path(hubkit.__file__).resolve().parent
    assert {p.name for p in TEMPLATES_DIR.glob("*.j2")} >= {"model_card.md.j2", "macros.md.j2"}


def test_context_is_plain_data():
    """Templates get JSON-ready data, never live objects whose methods could write files."""
    from hubkit.card.render import card_context

    context = card_context(RunRecord.load(REFERENCE))
    json.dumps(context)  # raises if anything is not plain data


# --- per-dataset view ----------------------------------------------------------------------------------------------


def test_model_index_has_one_result_per_hub_dataset_with_its_own_config_and_split():
    record = RunRecord.load(REFERENCE)
    data = ModelCard(render_card(record, repo_id=REFERENCE_REPO)).data
    by_dataset: dict[str, list] = {}
    for result in data.eval_results:
        by_dataset.setdefault(result.dataset_type, []).append(result)
    assert list(by_dataset) == [d.name for d in record.datasets]
    fraction = f"{record.held_out.eval_fraction * 100:g}%"
    for info, scores in zip(record.datasets, record.eval_by_dataset):
        results = by_dataset[info.name]
        validate_repo_id(info.name)  # the Hub's own validator accepts every dataset.type
        assert {r.metric_type for r in results} == {"exact_match", "f1"}
        for r in results:
            assert (r.dataset_config, r.dataset_split) == (info.hub_config, info.hub_split)
            assert fraction in r.dataset_name and f"seed {record.held_out.seed}" in r.dataset_name
            assert r.dataset_args == {
                "held_out_fraction": record.held_out.eval_fraction,
                "seed": record.held_out.seed,
                "num_examples": scores.num_examples,
            }
        assert {r.metric_type: r.metric_value for r in results} == {"exact_match": scores.exact_match, "f1": scores.f1}


def test_summary_names_each_task_and_flags_small_slices():
    record = RunRecord.load(REFERENCE)
    text = render_card(record, repo_id=REFERENCE_REPO)
    summary = text.split("\n# ", 1)[1].split("\n\n")[1]
    for info, scores in zip(record.datasets, record.eval_by_dataset):
        claim = f"{scores.exact_match:.2f}% exact match ({scores.f1:.2f}% F1) on {info.name} ({info.task}, "
        assert claim + f"{scores.num_examples} examples" in summary
        assert (
            f"{scores.num_examples} examples: fewer than 30, too few to conclude from" in summary
        ) == scores.too_small
    assert f"pooled over all {record.eval.num_examples} examples" in summary
    assert f"{record.eval.exact_match:.2f}% exact match" in summary.split("pooled")[1]
    # a one-dataset card names that dataset; its pooled score is the same number, so it is not repeated
    small = RunRecord.load(SMALL)
    small_summary = render_card(small).split("\n# ", 1)[1].split("\n\n")[1]
    assert "pooled" not in small_summary and "too few to conclude from" in small_summary


def test_per_dataset_sections_show_interval_labels_and_confusion():
    record = RunRecord.load(REFERENCE)
    text = render_card(record, repo_id=REFERENCE_REPO)
    evaluation = text.split("## Evaluation results")[1].split("## Ablation study")[0]
    assert "Wilson score interval" in evaluation
    for scores in record.eval_by_dataset:
        section = evaluation.split(f"### {scores.dataset}\n")[1].split("\n### ")[0]
        interval = scores.exact_match_interval
        assert f"| Exact Match (EM) | {scores.exact_match:.2f}% |" in section
        assert (
            f"| EM 95% interval (Wilson) | {interval.low:.2f}% – {interval.high:.2f}% "
            f"({scores.exact_match_correct} of {scores.num_examples} exact) |"
        ) in section
        assert ("**Too small to conclude from:**" in section) == scores.too_small
        assert ("Confusion matrix (rows = gold label" in section) == (scores.confusion is not None)
    phrasebank = record.eval_by_dataset[1]
    for label, row in zip(phrasebank.confusion.labels, phrasebank.confusion.counts):
        assert f"| {label} | " + " | ".join(str(c) for c in row) + " |" in evaluation
    for x in phrasebank.labels:
        assert f"| {x.label} | {x.num_examples} | {x.correct} | {x.accuracy:.2f}% |" in evaluation
    pooled = evaluation.split("### Pooled over all datasets\n")[1]
    assert f"| Exact Match (EM) | {record.eval.exact_match:.2f}% |" in pooled
    # the ablation table has the same per-dataset columns
    header = next(line for line in text.splitlines() if line.startswith("| Rank |"))
    assert "EM (pooled) | F1 (pooled) |" in header
    assert all(f"EM {d.name} | F1 {d.name} |" in header for d in record.datasets)


def test_card_says_what_was_held_out_of_which_split():
    record = RunRecord.load(REFERENCE)
    text = render_card(record, repo_id=REFERENCE_REPO)
    for d in record.datasets:
        assert (
            f"The rows are the `{d.hub_split}` split of config `{d.hub_config}`. 20% of its unique rows "
            f"({d.rows_eval}) were held out for evaluation (seed 42), the other {d.rows_train:,} trained on."
        ) in text


def test_provenance_beside_the_config_hash():
    record = RunRecord.load(REFERENCE)
    footer = render_card(record).rstrip().splitlines()[-1]
    assert f"`{record.config_hash}`, from git commit `{record.provenance.git_commit}` (clean checkout)" in footer
    small = RunRecord.load(SMALL)
    assert "(not run from a git checkout)" in render_card(small).rstrip().splitlines()[-1]
    data = json.loads(REFERENCE.read_text())
    data["provenance"]["git_dirty"] = True
    assert "with uncommitted changes" in render_card(RunRecord.from_dict(data)).rstrip().splitlines()[-1]


def test_repo_id_must_be_a_hub_id():
    with pytest.raises(HubkitError, match="is not a Hub repo id"):
        render_card(RunRecord.load(REFERENCE), repo_id="me/my model")
    text = render_card(RunRecord.load(REFERENCE), repo_id="me/finance-qa")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2 and all('"me/finance-qa"' in b for b in blocks)
