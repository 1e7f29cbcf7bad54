"""What stops a push before anything reaches the Hub: a tag git would refuse, and a secret of any shape in a file.

Against a local Hub with the real huggingface_hub client: the Hub's request log proves nothing was sent.
"""

from __future__ import annotations

import shutil
import string
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubkit.card.lint import lint_text
from hubkit.cli import cli
from hubkit.errors import HubkitError
from hubkit.localhub import LocalHub
from hubkit.publish.push import push
from hubkit.publish.stage import stage_run
from hubkit.release import release

from .conftest import ROOT
from .helpers import SENTINEL, USER, build_published_run

REPO = f"{USER}/guarded"
BAD_TAGS = ["v1..0", "v1.", "a.lock", "v 1", "v@{1}", "v1:0"]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    return build_published_run(tmp_path_factory.mktemp("guards") / "run", REPO)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with LocalHub.start(tmp_path / "hub-root", tokens={SENTINEL: USER}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", SENTINEL)
        monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
        yield server


def _one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.output, result.output
    assert all(n in lines[0] for n in needles), lines[0]
    return lines[0]


def _nothing_reached(hub: LocalHub) -> None:
    from huggingface_hub import HfApi

    assert hub.requests == [], [(r.method, r.path) for r in hub.requests]
    assert not HfApi(endpoint=hub.url, token=SENTINEL).repo_exists(REPO)


@pytest.mark.parametrize("tag", BAD_TAGS)
def test_push_with_a_bad_tag_fails_at_once_and_sends_nothing(hub: LocalHub, base_run: Path, tag: str):
    _one_line_error(
        CliRunner().invoke(cli, ["push", "--repo", REPO, "--run", str(base_run), "--tag", tag]), f"invalid tag {tag!r}"
    )
    with pytest.raises(HubkitError, match="invalid tag"):  # the library checks too, for callers without the CLI
        push(base_run, REPO, tag=tag, endpoint=hub.url, token=SENTINEL)
    _nothing_reached(hub)


def test_the_same_push_with_a_good_tag_gets_past_the_checks(hub: LocalHub, base_run: Path):
    """The control: the run is pushable, so the bad tag alone stopped the pushes above (a dry run writes nothing)."""
    result = CliRunner().invoke(cli, ["push", "--repo", REPO, "--run", str(base_run), "--tag", "v1.0.0", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run: would commit" in result.output
    # reads, plus the Hub's metadata check (a POST that writes nothing)
    assert hub.requests and all(r.method in ("GET", "HEAD") or r.path == "/api/validate-yaml" for r in hub.requests)


def test_release_with_a_bad_tag_fails_before_training(hub: LocalHub, tmp_path: Path):
    out = tmp_path / "run"
    config = str(ROOT / "pipeline" / "demo.yaml")
    _one_line_error(
        CliRunner().invoke(cli, ["release", "--config", config, "--repo", REPO, "--tag", "v1..0", "--out", str(out)]),
        "invalid tag 'v1..0'",
    )
    with pytest.raises(HubkitError, match="invalid tag"):
        release(config, REPO, tag="v1..0", out_dir=out)
    assert not out.exists()
    _nothing_reached(hub)


def test_a_bad_repo_id_is_a_one_line_error_before_anything_is_sent(hub: LocalHub, base_run: Path):
    _one_line_error(
        CliRunner().invoke(cli, ["push", "--repo", "C:\\models\\x", "--run", str(base_run)]),
        "invalid repo id",
        "local path",
    )
    _one_line_error(CliRunner().invoke(cli, ["smoke-test", "--repo", "just-a-name"]), "expected namespace/name")
    assert hub.requests == []


# --- every Hub token shape stops lint and staging -----------------------------------------------------------------


def _token_shapes() -> dict[str, str]:
    letters = "".join(string.ascii_letters[(7 * i) % 52] for i in range(34))
    jwt = "eyJ" + letters[:20] + ".eyJ" + letters + "." + letters[::-1]
    return {
        "oidc": "hf_" + "jwt_" + jwt,
        "glued": "x" + "hf_" + letters,
        "org": "api_" + "org_" + letters,
    }


@pytest.mark.parametrize("shape", list(_token_shapes()))
def test_every_hub_token_shape_stops_lint_and_staging(base_run: Path, tmp_path: Path, shape: str):
    secret = _token_shapes()[shape]
    assert "token" in {p.code for p in lint_text(f"---\nlicense: mit\n---\n\nLogin: {secret}\n")}
    run = tmp_path / "run"
    shutil.copytree(base_run, run)
    card = run / "model" / "README.md"
    card.write_text(card.read_text(encoding="utf-8") + f"\nLogin: {secret}\n", encoding="utf-8")
    with pytest.raises(HubkitError) as info:
        stage_run(run)
    assert "README.md" in str(info.value) and secret not in str(info.value)
