"""`hubkit build-card` and `hubkit lint-card` through click's CliRunner: every flag, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubkit.card.plots import write_loss_plot
from hubkit.cli import cli
from hubkit.record import RunRecord

from .helpers import GOLDEN, REFERENCE_RECORD, ROOT, SMALL_RECORD, assert_one_line_error, build_run

REFERENCE, SMALL = REFERENCE_RECORD, SMALL_RECORD
REFERENCE_REPO = "Aditya020705/distilbert-lora-finance-qa"  # the repo the golden reference card was rendered for
HEAVY = ("torch", "transformers", "peft", "datasets", "accelerate", "evaluate")


def make_run(tmp_path: Path, record: Path = REFERENCE, with_model: bool = True) -> Path:
    return build_run(tmp_path, record, with_model=with_model)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


# --- build-card ----------------------------------------------------------------------------------------------------


def test_build_card_default_output_matches_golden(tmp_path):
    run = make_run(tmp_path)
    result = invoke("build-card", "--run", str(run), "--repo-id", REFERENCE_REPO)
    assert result.exit_code == 0, result.output
    card, plot = run / "model" / "README.md", run / "model" / "loss.png"
    assert result.output == f"wrote {card} and {plot}\n"
    assert card.read_text(encoding="utf-8") == (GOLDEN / "reference_card.md").read_text(encoding="utf-8")
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_build_card_is_byte_stable(tmp_path):
    run = make_run(tmp_path, SMALL)
    assert invoke("build-card", "--run", str(run)).exit_code == 0
    card, plot = run / "model" / "README.md", run / "model" / "loss.png"
    first_card, first_plot = card.read_bytes(), plot.read_bytes()
    plot.unlink()  # force a redraw: the same record must give the same PNG bytes
    assert invoke("build-card", "--run", str(run)).exit_code == 0
    assert card.read_bytes() == first_card and plot.read_bytes() == first_plot
    assert first_card.decode() == (GOLDEN / "small_card.md").read_text(encoding="utf-8")


def test_build_card_redraws_when_the_loss_curve_changes(tmp_path):
    run = make_run(tmp_path)
    assert invoke("build-card", "--run", str(run)).exit_code == 0
    before = (run / "model" / "loss.png").read_bytes()
    data = json.loads((run / "record.json").read_text())
    data["loss_curve"][1]["loss"] = 0.2
    (run / "record.json").write_text(json.dumps(data))
    assert invoke("build-card", "--run", str(run)).exit_code == 0
    assert (run / "model" / "loss.png").read_bytes() != before
    assert "| 100 | 1.70 | 0.2 |" in (run / "model" / "README.md").read_text()


def test_build_card_out_and_json(tmp_path):
    run = make_run(tmp_path)
    out = tmp_path / "preview" / "CARD.md"
    result = invoke("build-card", "--run", str(run), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report == {"card": str(out), "plot": str(out.parent / "loss.png"), "ok": True, "problems": []}
    assert out.is_file() and (out.parent / "loss.png").is_file()
    assert not (run / "model" / "README.md").exists()


def test_build_card_with_user_template(tmp_path):
    run = make_run(tmp_path)
    template = tmp_path / "mine.md.j2"
    template.write_text(
        '{% import "macros.md.j2" as m %}---\n{{ front_matter }}\n---\n\n# {{ repo_id }}\n\n'
        "{{ m.eval_table(record) }}\n\n{% for e in record.eval_by_dataset %}## {{ e.dataset }}\n\n"
        "{{ m.dataset_eval(e, record.held_out, small_slice) }}\n\n{% endfor %}![loss]({{ plot }})\n",
        encoding="utf-8",
    )
    result = invoke("build-card", "--run", str(run), "--template", str(template), "--repo-id", "me/mine")
    assert result.exit_code == 0, result.output
    text = (run / "model" / "README.md").read_text()
    assert text.split("---\n", 2)[2].startswith("\n# me/mine\n\n| Metric | This model |")


def test_build_card_fails_on_its_own_lint(tmp_path):
    """No model files beside the card: the card is written, the problems are listed, exit 1 (a failed check)."""
    run = make_run(tmp_path, with_model=False)
    result = invoke("build-card", "--run", str(run))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "library-name: library_name is transformers but" in result.output
    assert result.output.splitlines()[-1].startswith("Error: ") and "lint problem(s)" in result.output
    assert (run / "model" / "README.md").is_file()
    result = invoke("build-card", "--run", str(run), "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False and {p["code"] for p in report["problems"]} == {"library-name"}


def _record_edit(tmp_path: Path, edit) -> Path:
    run = make_run(tmp_path)
    data = json.loads((run / "record.json").read_text())
    edit(data)
    (run / "record.json").write_text(json.dumps(data))
    return run


@pytest.mark.parametrize(
    "setup, fragments",
    [
        (lambda tmp: tmp / "no-such-run", ["no run folder at"]),
        (lambda tmp: (make_run(tmp) / "record.json").write_text("{oops") and tmp / "run", ["invalid JSON at line 1"]),
        (lambda tmp: _record_edit(tmp, lambda d: d["eval"].pop("exact_match")), ["missing field eval.exact_match"]),
        (
            lambda tmp: _record_edit(tmp, lambda d: d["parameters"].__setitem__("total", "many")),
            ["field parameters.total"],
        ),
        (lambda tmp: _record_edit(tmp, lambda d: d.pop("card")), ["missing field card"]),
    ],
    ids=["no-run", "invalid-json", "missing-field", "wrong-type", "missing-section"],
)
def test_build_card_bad_record_is_one_line_exit_2(tmp_path, setup, fragments):
    run = setup(tmp_path)
    assert_one_line_error(invoke("build-card", "--run", str(run)), *fragments)


@pytest.mark.parametrize(
    "source, fragments",
    [
        ("{% for x in record.datasets %}\n{{ x.name }}\n", ["bad.md.j2 line", "endfor"]),
        ("{{ record.eval.accuracy }}\n", ["undefined value", "accuracy"]),
        ("{{ mystery_variable }}\n", ["undefined value", "mystery_variable"]),
        ('{% include "nowhere.md.j2" %}\n', ["cannot find template", "nowhere.md.j2"]),
        ("{{ record.__class__.__subclasses__() }}\n", ["bad.md.j2"]),
    ],
    ids=["syntax", "unknown-field", "unknown-variable", "missing-include", "sandbox"],
)
def test_build_card_bad_template_is_one_line_exit_2(tmp_path, source, fragments):
    run = make_run(tmp_path)
    template = tmp_path / "bad.md.j2"
    template.write_text(source, encoding="utf-8")
    assert_one_line_error(invoke("build-card", "--run", str(run), "--template", str(template)), *fragments)
    assert not (run / "model" / "README.md").exists()  # nothing written when rendering fails


@pytest.mark.parametrize(
    "source, fragments",
    [
        ("{{ range(10**9) | list | length }}\n", ["rendering failed: OverflowError"]),
        ("{{ 1/0 }}\n", ["rendering failed: ZeroDivisionError"]),
        ("{{ 'a' * 10**10 }}\n", ["not allowed in a card template", "longer than 1,000,000"]),
        ("{{ [0] * 10**8 }}\n", ["not allowed in a card template"]),
        ("{{ 7 ** 100000 }}\n", ["not allowed in a card template", "exponent"]),
    ],
    ids=["huge-range", "division-by-zero", "huge-string", "huge-list", "huge-power"],
)
def test_user_template_that_raises_is_one_line_exit_2(tmp_path, source, fragments):
    run = make_run(tmp_path)
    template = tmp_path / "raising.md.j2"
    template.write_text(source, encoding="utf-8")
    assert_one_line_error(
        invoke("build-card", "--run", str(run), "--template", str(template)), "raising.md.j2", *fragments
    )
    assert not (run / "model" / "README.md").exists()


def test_build_card_out_under_a_file_is_one_line_exit_2(tmp_path):
    run = make_run(tmp_path)
    blocker = tmp_path / "existing_file"
    blocker.write_text("not a folder")
    assert_one_line_error(
        invoke("build-card", "--run", str(run), "-o", str(blocker / "README.md")), f"{blocker} is a file, not a folder"
    )
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda d: d.__setitem__("train_loss", float("inf")), ["field train_loss", "finite number"]),
        (lambda d: d["eval"].__setitem__("eval_loss", float("nan")), ["field eval.eval_loss", "finite number"]),
        (lambda d: d["card"].__setitem__("model_name", "two\nlines"), ["field card.model_name", "one non-empty line"]),
    ],
    ids=["infinite-loss", "nan-loss", "newline-in-name"],
)
def test_record_values_a_card_cannot_show_are_one_line_exit_2(tmp_path, edit, fragments):
    run = _record_edit(tmp_path, edit)  # json.dumps writes Infinity/NaN, which json.loads reads back
    assert_one_line_error(invoke("build-card", "--run", str(run)), *fragments)
    assert not (run / "model" / "README.md").exists()


def test_build_card_replaces_the_card_atomically(tmp_path):
    run = make_run(tmp_path)
    assert invoke("build-card", "--run", str(run)).exit_code == 0
    card = run / "model" / "README.md"
    card.write_text("an old card\n")
    assert invoke("build-card", "--run", str(run)).exit_code == 0
    assert card.read_text().startswith("---\n")
    assert sorted(p.name for p in card.parent.iterdir() if p.name.startswith(".")) == []  # no temp file left


def test_build_card_missing_template_file(tmp_path):
    run = make_run(tmp_path)
    assert_one_line_error(
        invoke("build-card", "--run", str(run), "--template", str(tmp_path / "x.j2")), "no template file"
    )


def _modules_after_build(run: Path) -> str:
    """Run build-card in a fresh interpreter; report which heavy libraries it imported."""
    code = (
        "import sys\n"
        "from hubkit.cli import cli\n"
        f"try:\n    cli(['build-card', '--run', {str(run)!r}])\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        f"print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
        "print('MATPLOTLIB', 'matplotlib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_build_card_imports_no_torch_transformers_or_peft(tmp_path):
    stdout = _modules_after_build(make_run(tmp_path))
    assert "HEAVY []" in stdout, stdout


def test_build_card_reuses_the_runs_own_plot_without_matplotlib(tmp_path):
    """A loss.png drawn at training time from the same numbers is copied, not redrawn."""
    run = make_run(tmp_path)
    record = RunRecord.load(run)
    write_loss_plot(record.loss_curve, run / "loss.png", record.train_loss)
    stdout = _modules_after_build(run)
    assert "HEAVY []" in stdout and "MATPLOTLIB False" in stdout, stdout
    assert (run / "model" / "loss.png").read_bytes() == (run / "loss.png").read_bytes()


# --- lint-card -----------------------------------------------------------------------------------------------------


def test_lint_card_clean_text_and_json(tmp_path):
    run = make_run(tmp_path)
    assert invoke("build-card", "--run", str(run)).exit_code == 0
    card = run / "model" / "README.md"
    result = invoke("lint-card", str(card))
    assert result.exit_code == 0 and result.output == f"{card}: ok\n"
    result = invoke("lint-card", str(run / "model"), "--json")
    assert result.exit_code == 0 and json.loads(result.output) == {
        "path": str(run / "model"),
        "ok": True,
        "problems": [],
    }


def test_lint_card_reports_problems_exit_1(tmp_path):
    run = make_run(tmp_path)
    assert invoke("build-card", "--run", str(run)).exit_code == 0
    card = run / "model" / "README.md"
    card.write_text(card.read_text().replace("| F1 | 99.49% |", "| F1 | TODO |"))  # a per-dataset F1
    result = invoke("lint-card", str(card))
    assert result.exit_code == 1
    assert f"{card}: placeholder: line" in result.output and f"{card}: model-index:" in result.output
    report = json.loads(invoke("lint-card", str(card), "--json").output)
    assert report["ok"] is False and {p["code"] for p in report["problems"]} == {"placeholder", "model-index"}


def test_lint_card_missing_path_is_one_line_exit_2(tmp_path):
    assert_one_line_error(invoke("lint-card", str(tmp_path / "README.md")), "no model card")
