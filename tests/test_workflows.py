"""The GitHub workflows: valid against the workflow schema (offline), and wired the way the release needs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def _load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_workflows_pass_the_github_workflow_schema():
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) == 2
    result = subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", *files], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_release_runs_on_version_tags_with_oidc_and_the_release_script():
    wf = _load("release.yml")
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["tags"] == ["v*"]
    assert wf["jobs"]["release"]["permissions"]["id-token"] == "write"
    assert "test" in wf["jobs"]["release"]["needs"], "the release must run the tests first"
    assert any("pytest" in s.get("run", "") for s in wf["jobs"]["test"]["steps"])
    steps = wf["jobs"]["release"]["steps"]
    release = next(s for s in steps if "release.sh" in s.get("run", ""))
    assert release["env"]["HF_TOKEN"] == "${{ secrets.HF_TOKEN }}"
    assert "HF_OIDC_RESOURCE" in release["env"]
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and "record.json" in uploads[0]["with"]["path"]


def test_no_workflow_step_can_print_a_token():
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        for line in text.splitlines():
            if re.search(r"\b(echo|printf|cat)\b", line):
                assert "HF_TOKEN" not in line and "secrets." not in line, f"{path.name}: {line.strip()}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "python -m pytest -q" in readme
    wf = _load("ci.yml")
    runs = [s.get("run", "") for s in wf["jobs"]["test"]["steps"]]
    assert any("python -m pytest -q" in r for r in runs)
    assert "python -m pytest -q" in (ROOT / ".ci" / "run").read_text()


# --- GitHub Actions hardening (zizmor's audits, checked here too so a failure names the rule) --------------------

PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+\s*$")


def _jobs() -> list[tuple[str, str, dict]]:
    return [
        (path.name, name, job)
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for name, job in _load(path.name)["jobs"].items()
    ]


def test_every_action_is_pinned_by_commit_sha_with_its_version():
    shas: dict[str, set[str]] = {}
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            if re.match(r"^\s*(?:-\s+)?uses:", line):
                match = PINNED.match(line)
                assert match, f"{path.name}: not pinned to a full commit sha with '# vX.Y.Z': {line.strip()}"
                shas.setdefault(match.group(1), set()).add(match.group(2))
    assert shas and all(len(v) == 1 for v in shas.values()), f"one action, two pins: {shas}"


def test_least_privilege_permissions_and_no_kept_credentials():
    for path in WORKFLOWS.glob("*.yml"):
        assert _load(path.name)["permissions"] == {}, f"{path.name}: the workflow default must be no permissions"
    for file, name, job in _jobs():
        assert "permissions" in job, f"{file}:{name} declares no permissions"
        granted = {k: v for k, v in job["permissions"].items() if v != "none"}
        allowed = {"contents": "read"}
        if (file, name) == ("release.yml", "release"):
            allowed["id-token"] = "write"  # Hub trusted publishing, in the publishing job only
        assert granted.items() <= allowed.items(), f"{file}:{name} asks for {granted}"
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, f"{file}:{name} keeps credentials"


def test_the_publishing_workflow_restores_no_dependency_cache():
    for _, name, job in (j for j in _jobs() if j[0] == "release.yml"):
        for step in job["steps"]:
            assert "cache" not in step.get("with", {}), f"release.yml:{name}: {step.get('uses')} restores a cache"
            assert not step.get("uses", "").startswith("actions/cache"), f"release.yml:{name} uses actions/cache"


def test_zizmor_finds_nothing_offline():
    exe = shutil.which("zizmor") or str(Path(sys.executable).parent / "zizmor")
    if not Path(exe).exists():
        pytest.skip("zizmor is not installed (it comes with the test extra: pip install -e '.[test]')")
    result = subprocess.run([exe, "--offline", str(WORKFLOWS)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "zizmor --offline .github/workflows/" in (ROOT / ".ci" / "run").read_text()
