"""Repo ids, local paths and git tag names: one table each, checked against huggingface_hub and git's rules."""

from __future__ import annotations

import shutil
import subprocess

import click
import pytest
from click.testing import CliRunner

from hubkit import ids
from hubkit.commands.params import REPO_ID, REPO_ID_WITH_NAMESPACE, TAG
from hubkit.errors import HubkitError

# value -> the Hub accepts it as a repo id
REPO_IDS = {
    "a": True,
    "a/b": True,
    "distilbert/distilbert-base-uncased": True,
    "FinanceMTEB/financial_phrasebank": True,
    "_a": True,
    "x" * 96: True,
    "org/" + "x" * 96: True,
    "Foo-BAR_foo.bar123": True,
    "-a": False,
    "a-": False,
    ".a": False,
    "a.": False,
    "a--b": False,
    "a..b": False,
    "x.git": False,
    "a/b/c": False,
    "/a": False,
    "./a": False,
    "../a": False,
    "~/a": False,
    "~a": False,
    "a\\b": False,
    "C:/x": False,
    "C:\\x": False,
    "c:x": False,
    "file:///x": False,
    "café": False,
    "a b": False,
    "x" * 97: False,
    "a/": False,
    "/": False,
    "": False,
    "acme/finance-faq | v2": False,
}

# value -> clearly a file-system path (the base_model / --repo mistake the linter and CLI name as such)
LOCAL_PATHS = {
    "/home/me/models/base": True,
    "./base": True,
    "../base": True,
    ".cache/base": True,
    "~/models/base": True,
    "~": True,
    "C:\\models\\base": True,
    "C:/models/base": True,
    "C:": True,
    "d:base": True,
    "models\\base": True,
    "file:///tmp/base": True,
    "runs/demo/model": True,
    "distilbert/distilbert-base-uncased": False,
    "distilbert-base-uncased": False,
    "acme/C:": False,
    "": False,
}

# value -> git accepts refs/tags/<value> (git check-ref-format's rules)
TAGS = {
    "v1.0.0": True,
    "v0.1.0-rc.1": True,
    "v1+build.5": True,
    "release/v1": True,
    "_v1": True,
    "v1@2": True,
    "v1..0": False,
    "v1.": False,
    "a.lock": False,
    "release/a.lock/x": False,
    "release/.hidden": False,
    ".v1": False,
    "v1/": False,
    "/v1": False,
    "a//b": False,
    "v@{1}": False,
    "@": False,
    "v 1": False,
    "v1\t": False,
    "v1\n": False,
    "v1\x7f": False,
    "v1~1": False,
    "v1^": False,
    "v1:x": False,
    "v1?": False,
    "v1*": False,
    "v[1]": False,
    "v1\\x": False,
    "-v1": False,
    "": False,
}
# refused on purpose although check-ref-format accepts refs/tags/<name>
STRICTER_THAN_GIT = {"-v1": "`git tag` refuses it too (it reads as an option)", "@": "'@' alone means HEAD in git"}


@pytest.mark.parametrize("value,accepted", REPO_IDS.items(), ids=repr)
def test_repo_ids_follow_huggingface_hub(value: str, accepted: bool):
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(value)
        hub_accepts = True
    except HFValidationError:
        hub_accepts = False
    assert hub_accepts is accepted, "the table disagrees with huggingface_hub"
    assert ids.is_hub_id(value) is accepted
    assert (ids.repo_id_problem(value) is None) is accepted


def test_the_copied_regex_is_huggingface_hubs():
    from huggingface_hub.utils._validators import REPO_ID_REGEX

    assert (ids.REPO_ID_REGEX.pattern, ids.REPO_ID_REGEX.flags) == (REPO_ID_REGEX.pattern, REPO_ID_REGEX.flags)


@pytest.mark.parametrize("value,is_path", LOCAL_PATHS.items(), ids=repr)
def test_local_paths_are_recognised(value: str, is_path: bool):
    assert ids.looks_like_local_path(value) is is_path
    if is_path:
        assert "local path" in ids.repo_id_problem(value)


def test_check_repo_id_is_one_line_and_namespace_can_be_required():
    assert ids.check_repo_id("alice/model") == "alice/model"
    assert ids.check_repo_id("model") == "model"
    with pytest.raises(HubkitError, match=r"^invalid repo id 'model': expected namespace/name$"):
        ids.check_repo_id("model", require_namespace=True)
    with pytest.raises(HubkitError) as info:
        ids.check_repo_id("C:\\models\\base")
    assert "local path" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name,accepted", TAGS.items(), ids=repr)
def test_tags_follow_gits_ref_name_rules(name: str, accepted: bool):
    assert (ids.tag_problem(name) is None) is accepted
    if not accepted:
        with pytest.raises(HubkitError, match=r"^invalid tag "):
            ids.check_tag(name)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_tag_table_agrees_with_git_itself():
    for name, accepted in TAGS.items():
        if name in STRICTER_THAN_GIT:
            continue
        proc = subprocess.run(["git", "check-ref-format", f"refs/tags/{name}"], check=False, capture_output=True)
        assert (proc.returncode == 0) is accepted, repr(name)


# --- the click parameter types ------------------------------------------------------------------------------------


@click.command()
@click.option("--repo", type=REPO_ID)
@click.option("--full", type=REPO_ID_WITH_NAMESPACE)
@click.option("--tag", type=TAG)
def _probe(repo, full, tag):
    click.echo(f"{repo}|{full}|{tag}")


@pytest.mark.parametrize(
    "args,error",
    [
        (["--repo", "bad..id"], "invalid repo id 'bad..id': '--' and '..' are not allowed"),
        (["--repo", "C:\\models\\base"], "local path"),
        (["--full", "model"], "invalid repo id 'model': expected namespace/name"),
        (["--tag", "v1..0"], "invalid tag 'v1..0'"),
    ],
)
def test_bad_values_are_one_line_click_errors_exit_2(args: list[str], error: str):
    result = CliRunner().invoke(_probe, args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and error in lines[0], result.output


def test_good_values_pass_through():
    result = CliRunner().invoke(_probe, ["--repo", "model", "--full", "alice/model", "--tag", "v1.2.0"])
    assert result.exit_code == 0 and result.output == "model|alice/model|v1.2.0\n"


# --- the places that refuse a local path where a Hub id belongs all use ids.looks_like_local_path -----------------


@pytest.mark.parametrize("path", ["C:/models/base", "C:\\models\\base", "~/base", "./base", "/abs/base"])
def test_config_record_and_card_lint_refuse_the_same_local_paths(path: str):
    import json

    from pydantic import ValidationError

    from hubkit.card.lint import check_base_model
    from hubkit.record import RunRecord
    from hubkit.train.config import BaseModelSection

    from .conftest import FIXTURES

    with pytest.raises(ValidationError, match="Hub id"):
        BaseModelSection(id=path)
    data = json.loads((FIXTURES / "reference_record.json").read_text(encoding="utf-8"))
    data["base_model"]["id"] = path
    with pytest.raises(HubkitError, match="not a local path"):
        RunRecord.from_dict(data)
    assert [p.code for p in check_base_model({"base_model": path})] == ["base-model"]
