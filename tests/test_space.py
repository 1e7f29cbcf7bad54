"""The demo Space's files, rendered from a run record and linted offline (no Hub, no gradio import).

Publishing to a local Hub is in test_space_publish.py; the running app (gradio_client, a real browser) in
test_space_app.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import tomllib
import yaml

from hubkit.card.lint import REGEX_YAML_BLOCK
from hubkit.card.render import render_card
from hubkit.errors import HubkitError
from hubkit.record import RunRecord
from hubkit.space.lint import app_model_id, lint_space
from hubkit.space.render import (
    APP_FILE,
    README_FILE,
    REQUIREMENTS_FILE,
    SHORT_DESCRIPTION_MAX,
    TRANSFORMERS_PIN,
    installed_gradio_version,
    render_space,
)

from .conftest import FIXTURES, ROOT

MODEL = "alice/distilbert-lora-finance-qa"
SPACE = "alice/distilbert-lora-finance-qa-demo"


def _record(**changes) -> RunRecord:
    data = json.loads((FIXTURES / "reference_record.json").read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        target = data
        *path, last = dotted.split("__")
        for key in path:
            target = target[key]
        target[last] = value
    return RunRecord.from_dict(data)


def _front_matter(readme: str) -> dict:
    return yaml.safe_load(REGEX_YAML_BLOCK.search(readme).group(2))


def _codes(problems) -> set[str]:
    return {p.code for p in problems}


def test_rendered_space_is_deterministic_complete_and_lint_clean():
    record = _record()
    space = render_space(record, MODEL, SPACE, sdk_version="6.31.0")
    assert list(space.files) == [README_FILE, APP_FILE, REQUIREMENTS_FILE]
    assert render_space(record, MODEL, SPACE, sdk_version="6.31.0").files == space.files
    assert lint_space(space.files, MODEL) == []

    meta = _front_matter(space.files[README_FILE])
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == "6.31.0" and meta["app_file"] == APP_FILE
    assert meta["models"] == [MODEL]
    assert meta["title"] == record.card.model_name and meta["license"] == record.card.license
    assert meta["emoji"] and 0 < len(meta["short_description"]) <= SHORT_DESCRIPTION_MAX

    app = space.files[APP_FILE]
    compile(app, APP_FILE, "exec")
    assert app_model_id(app) == MODEL
    for example in record.smoke_examples:  # every smoke example is a clickable example, verbatim
        assert f"[{json.dumps(example.question)}, {json.dumps(example.context)}]" in app
    assert "OPTIONS_PREFIX" not in app  # no options-format dataset in this run

    requirements = space.files[REQUIREMENTS_FILE].splitlines()
    assert f"transformers=={record.versions.transformers}" in requirements
    assert f"torch=={record.versions.torch}" in requirements
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in requirements


def test_default_sdk_version_is_the_installed_gradio():
    from importlib.metadata import version

    from .space_helpers import require_gradio

    require_gradio()

    space = render_space(_record(), MODEL, SPACE)
    assert _front_matter(space.files[README_FILE])["sdk_version"] == version("gradio") == installed_gradio_version()


def test_options_format_gets_a_sentence_box_that_builds_the_context():
    from hubkit.train.kinds import OPTIONS_PREFIX, SENTIMENT_QUESTION

    data = json.loads((FIXTURES / "reference_record.json").read_text(encoding="utf-8"))
    data["datasets"][1]["format"] = "options"
    space = render_space(RunRecord.from_dict(data), MODEL, SPACE, sdk_version="6.31.0")
    app = space.files[APP_FILE]
    assert lint_space(space.files, MODEL) == []
    assert f"OPTIONS_PREFIX = {json.dumps(OPTIONS_PREFIX)}" in app
    assert f"SENTIMENT_QUESTION = {json.dumps(SENTIMENT_QUESTION)}" in app
    # the builder, run as the app defines it, gives the context the model was trained on
    source = app.split("def sentiment_context", 1)[1].split("\n\n\n", 1)[0]
    scope = {"gr": None, "SENTIMENT_QUESTION": SENTIMENT_QUESTION, "OPTIONS_PREFIX": OPTIONS_PREFIX}
    exec("def sentiment_context" + source, scope)  # noqa: S102 - the app's own function, as rendered
    assert scope["sentiment_context"]("  Profits rose\n sharply. ") == (
        SENTIMENT_QUESTION,
        OPTIONS_PREFIX + "Profits rose sharply.",
    )
    assert 'elem_id="sentence"' in app and "sentiment" in space.files[README_FILE]


def test_transformers_pin_is_hubkits_own():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert f"transformers{TRANSFORMERS_PIN}" in project["dependencies"]
    assert any(dep.startswith("gradio") for dep in project["optional-dependencies"]["space"])


def test_a_run_outside_the_transformers_pin_is_refused():
    with pytest.raises(HubkitError, match=r"transformers 4\.57\.1, outside hubkit's pin"):
        render_space(_record(versions__transformers="4.57.1"), MODEL, SPACE, sdk_version="6.31.0")


@pytest.mark.parametrize(
    "name, edit, code",
    [
        (APP_FILE, lambda t: t.replace(json.dumps(MODEL), '"alice/other-model"', 1), "space-model"),
        (APP_FILE, lambda t: t.replace("def answer(", "def answer(:"), "space-app"),
        (APP_FILE, lambda t: t + "\nTOKEN = '" + "hf_" + "x9" * 17 + "'\n", "token"),
        (README_FILE, lambda t: t.replace("sdk: gradio", "sdk: streamlit"), "space-metadata"),
        (README_FILE, lambda t: t.replace("sdk_version: 6.31.0", "sdk_version: latest"), "space-metadata"),
        (README_FILE, lambda t: t.replace("app_file: app.py", "app_file: main.py"), "space-files"),
        (README_FILE, lambda t: t.replace(f"- {MODEL}", "- alice/other-model"), "space-model"),
        (README_FILE, lambda t: t.replace("license: apache-2.0\n", ""), "space-metadata"),
        (README_FILE, lambda t: t.replace("short_description: ", "short_description: " + "x" * 60), "space-metadata"),
        (README_FILE, lambda t: t.replace("---\n", "", 1), "front-matter"),
        (REQUIREMENTS_FILE, lambda t: t.replace("transformers==5.2.0", "transformers==5.3.0"), "space-requirements"),
        (REQUIREMENTS_FILE, lambda t: t.replace("torch==", "torch>="), "space-requirements"),
    ],
)
def test_lint_finds_each_problem(name, edit, code):
    files = dict(render_space(_record(), MODEL, SPACE, sdk_version="6.31.0").files)
    files[name] = edit(files[name])
    problems = lint_space(files, MODEL)
    assert code in _codes(problems), problems
    assert all("\n" not in p.message and "x9x9x9" not in p.message for p in problems)


def test_lint_needs_every_file():
    files = dict(render_space(_record(), MODEL, SPACE, sdk_version="6.31.0").files)
    assert "space-files" in _codes(lint_space({k: v for k, v in files.items() if k != APP_FILE}, MODEL))
    assert "space-files" in _codes(lint_space({k: v for k, v in files.items() if k != REQUIREMENTS_FILE}, MODEL))
    assert "space-files" in _codes(lint_space({APP_FILE: files[APP_FILE]}, MODEL))


def test_card_links_the_space_only_when_given():
    record = _record()
    plain = render_card(record, repo_id=MODEL)
    linked = render_card(record, repo_id=MODEL, space_id=SPACE)
    assert "Try it" not in plain
    assert f"**Try it:** [{SPACE}](https://huggingface.co/spaces/{SPACE})" in linked
    added = [line for line in linked.splitlines() if line not in plain.splitlines()]
    assert len(added) == 1 and added[0].startswith("**Try it:**")


def test_hubkit_never_imports_gradio_unless_a_space_runs():
    code = (
        "import sys\n"
        "import hubkit.cli\n"
        "from hubkit.cli import cli\n"
        "for args in (['--help'], ['space', '--help']):\n"
        "    try:\n"
        "        cli(args, prog_name='hubkit')\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        "import hubkit.space.render, hubkit.space.lint, hubkit.space.publish, hubkit.space.serve\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('gradio', 'gradio_client'))\n"
        "print('LOADED', loaded)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "LOADED []" in proc.stdout
    assert re.search(r"^\s+space\s+Publish a Gradio Space", proc.stdout, re.MULTILINE)  # `hubkit --help` lists it
