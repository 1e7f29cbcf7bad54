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
    assert wf["permissions"]["id-token"] == "write"
    steps = wf["jobs"]["release"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert any("pytest" in r for r in runs), "the release must run the tests first"
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
