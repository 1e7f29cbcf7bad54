"""Offline checks on a rendered Space before it is published.

The README's front matter must be what the Hub needs to build the Space, the app file must exist and compile and
load the model that was pushed, requirements.txt must pin torch and a transformers within hubkit's pin, and no file
may hold anything token-shaped. Problems are the card linter's `LintProblem`s (stable `code`, one-line `message`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

import yaml

from ..card.lint import (
    REGEX_YAML_BLOCK,
    LintProblem,
    check_tokens,  # hubkit's one token check (the card's); re-point here if it moves
)
from .render import (
    APP_FILE,
    MODEL_ID_ENV,
    README_FILE,
    REQUIREMENTS_FILE,
    SDK,
    SHORT_DESCRIPTION_MAX,
    TRANSFORMERS_PIN,
)

REQUIRED_FIELDS = ("title", "emoji", "sdk", "sdk_version", "app_file", "license", "short_description", "models")
# The colors the Hub accepts for a Space's card (colorFrom / colorTo).
COLORS = frozenset({"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"})
_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)")


def lint_space(files: Mapping[str, str], model_id: str) -> list[LintProblem]:
    """Lint a Space given as {file name: text}; `model_id` is the model the Space must show. [] when clean."""
    problems: list[LintProblem] = []
    for name in sorted(files):
        problems += [LintProblem(p.code, f"{name}: {p.message}") for p in check_tokens(files[name])]
        if "{{" in files[name] or "{%" in files[name]:
            problems.append(LintProblem("placeholder", f"{name}: unrendered template syntax ('{{{{' or '{{%')"))
    readme = files.get(README_FILE)
    if readme is None:
        return problems + [LintProblem("space-files", f"no {README_FILE}: the Hub reads a Space's settings from it")]
    metadata = _front_matter(readme, problems)
    if metadata is not None:
        problems += check_front_matter(metadata, files, model_id)
    app_file = str(metadata.get("app_file") or APP_FILE) if metadata else APP_FILE
    if app_file in files:
        problems += check_app(files[app_file], app_file, model_id)
    problems += check_requirements(files.get(REQUIREMENTS_FILE))
    return problems


def _front_matter(text: str, problems: list[LintProblem]) -> dict[str, Any] | None:
    match = REGEX_YAML_BLOCK.search(text)
    if not match:
        problems.append(LintProblem("front-matter", f"{README_FILE} has no YAML front matter ('---' block)"))
        return None
    try:
        data = yaml.safe_load(match.group(2))
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.append(LintProblem("front-matter", f"{README_FILE} front matter is not valid YAML: {problem}"))
        return None
    if not isinstance(data, dict):
        problems.append(LintProblem("front-matter", f"{README_FILE} front matter must be a YAML mapping"))
        return None
    return data


def check_front_matter(metadata: dict[str, Any], files: Mapping[str, str], model_id: str) -> list[LintProblem]:
    problems = [
        LintProblem("space-metadata", f"front matter has no {key}")
        for key in REQUIRED_FIELDS
        if metadata.get(key) in (None, "", [])
    ]
    sdk, version = metadata.get("sdk"), metadata.get("sdk_version")
    if sdk not in (None, SDK):
        problems.append(LintProblem("space-metadata", f"sdk is {sdk!r}; this app needs sdk: {SDK}"))
    if version is not None and not _VERSION.match(str(version)):
        problems.append(LintProblem("space-metadata", f"sdk_version {version!r} is not a version like 6.31.0"))
    app_file = metadata.get("app_file")
    if app_file and app_file not in files:
        problems.append(LintProblem("space-files", f"app_file {app_file} is not among the Space's files"))
    models = metadata.get("models")
    if models not in (None, []) and models != [model_id]:
        problems.append(LintProblem("space-model", f"front matter models is {models!r}; expected [{model_id}]"))
    description = metadata.get("short_description")
    if description and len(str(description)) > SHORT_DESCRIPTION_MAX:
        problems.append(
            LintProblem(
                "space-metadata",
                f"short_description has {len(str(description))} characters; the Hub allows {SHORT_DESCRIPTION_MAX}",
            )
        )
    for key in ("colorFrom", "colorTo"):
        if key in metadata and metadata[key] not in COLORS:
            problems.append(LintProblem("space-metadata", f"{key} {metadata[key]!r} is not one of the Hub's colors"))
    return problems


def app_model_id(source: str) -> str | None:
    """The default of `os.environ.get(HUBKIT_MODEL_ID, <default>)` in the app's source, or None when absent."""
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"):
            continue
        values = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if len(node.args) == 2 and len(values) == 2 and values[0] == MODEL_ID_ENV:
            return values[1]
    return None


def check_app(source: str, name: str, model_id: str) -> list[LintProblem]:
    try:
        compile(source, name, "exec")
    except SyntaxError as exc:
        return [LintProblem("space-app", f"{name} does not compile: line {exc.lineno}: {exc.msg}")]
    found = app_model_id(source)
    if found is None:
        return [LintProblem("space-model", f"{name} does not read the model id from {MODEL_ID_ENV}")]
    if found != model_id:
        return [LintProblem("space-model", f"{name} loads {found!r} by default; the pushed model is {model_id!r}")]
    return []


def check_requirements(text: str | None) -> list[LintProblem]:
    if text is None:
        return [LintProblem("space-files", f"no {REQUIREMENTS_FILE}: the Space would not install transformers/torch")]
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    pins = {}
    for line in text.splitlines():
        match = _REQUIREMENT.match(line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    problems = [
        LintProblem("space-requirements", f"{REQUIREMENTS_FILE} does not pin {name} (name==version)")
        for name in ("torch", "transformers")
        if name not in pins
    ]
    if "transformers" in pins:
        try:
            inside = Version(pins["transformers"]) in SpecifierSet(TRANSFORMERS_PIN)
        except InvalidVersion:
            inside = False
        if not inside:
            problems.append(
                LintProblem(
                    "space-requirements",
                    f"transformers=={pins['transformers']} is outside hubkit's pin transformers{TRANSFORMERS_PIN}",
                )
            )
    return problems
