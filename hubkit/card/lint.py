"""Offline checks on a model card and the files beside it, before anything is published.

Each check returns problems with a stable `code` and a one-line `message` a person can act on. Nothing here needs
the network, torch or transformers: `hubkit build-card` runs it on every card it writes, and `hubkit push` runs it
before uploading. Messages never echo a token back.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub.repocard_data import ModelCardData

from ..data import hub_license_ids
from ..errors import HubkitError
from ..ids import is_hub_id, looks_like_local_path
from ..runfolder import CARD_FILENAME
from ..secret_scan import find_secrets

# Same pattern as huggingface_hub.repocard.REGEX_YAML_BLOCK (the Hub server's own), copied because importing
# huggingface_hub.repocard pulls in the HTTP client and doubles build-card's start-up time; a test keeps them equal.
REGEX_YAML_BLOCK = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")

RELATIONS = {"adapter", "merge", "quantized", "finetune"}
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_model.bin")
# config.architectures[0] suffix -> the pipeline tag the Hub (and transformers.pipeline) would use for it
ARCHITECTURE_TAGS = {
    "ForQuestionAnswering": "question-answering",
    "ForSequenceClassification": "text-classification",
    "ForTokenClassification": "token-classification",
    "ForMaskedLM": "fill-mask",
    "ForCausalLM": "text-generation",
    "ForConditionalGeneration": "text2text-generation",
    "ForMultipleChoice": "multiple-choice",
}

_PLACEHOLDERS = (
    (re.compile(r"More Information Needed", re.I), "'More Information Needed'"),
    (re.compile(r"\bTODO\b"), "'TODO'"),
    (re.compile(r"\{\{|\{%"), "unrendered template syntax ('{{' or '{%')"),
    (re.compile(r"\bnan\b", re.I), "'nan' (a number that was never computed)"),
    # "None" as a value (a table cell, after ':' '=' '->', in brackets), not the English word in a sentence
    (re.compile(r"(?:^|[|:=(\[,>→])\s*`?None`?\s*%?\s*(?=$|[|)\],])"), "'None' where a value should be"),
)
_NUMBER_CELL = re.compile(r"^[*_`\s]*([-+]?\d[\d,]*(?:\.(\d+))?)\s*%?[*_`\s]*$")
_STRING_KEYS = ("language", "license", "library_name", "pipeline_tag", "base_model", "datasets", "tags")


@dataclass(frozen=True)
class LintProblem:
    """One thing wrong with a card: `code` is stable (for tests and tools), `message` is for people."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def lint_card(card_path: Path, model_dir: Path | None = None, repo_id: str | None = None) -> list[LintProblem]:
    """Lint the card at `card_path` (a README.md, or a folder holding one).

    `model_dir` is the folder of model files the card describes (default: the card's folder); library_name and
    pipeline_tag are checked against what is there. With `repo_id` (the repo the card is about to be pushed to),
    every usage code block must load that repo. Returns [] for a clean card. Raises HubkitError when the card cannot
    be read at all.
    """
    card_path = Path(card_path)
    if card_path.is_dir():
        card_path = card_path / CARD_FILENAME
    if not card_path.is_file():
        raise HubkitError(f"no model card at {card_path}")
    try:
        text = card_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise HubkitError(f"{card_path}: not UTF-8 text") from None
    return lint_text(text, Path(model_dir) if model_dir is not None else card_path.parent, repo_id=repo_id)


def lint_text(text: str, model_dir: Path | None = None, repo_id: str | None = None) -> list[LintProblem]:
    """Lint card text; file checks run only when `model_dir` is given, the usage-block check when `repo_id` is."""
    problems: list[LintProblem] = []
    metadata, body = _front_matter(text, problems)
    problems += check_placeholders(text)
    problems += check_tokens(text)
    if metadata is not None:
        problems += check_yaml_traps(metadata)
        problems += check_required(metadata)
        problems += check_base_model(metadata)
        problems += check_license(metadata)
        card_data = _card_data(metadata, problems)
        if card_data is not None:
            problems += check_model_index_shape(card_data)
            problems += check_model_index(card_data, body)
        if model_dir is not None:
            problems += check_files(metadata, Path(model_dir))
    if repo_id is not None:
        problems += check_usage_repo_id(body, repo_id)
    return problems


# --- front matter ------------------------------------------------------------------------------------------------


def _front_matter(text: str, problems: list[LintProblem]) -> tuple[dict[str, Any] | None, str]:
    match = REGEX_YAML_BLOCK.search(text)
    if not match:
        problems.append(LintProblem("front-matter", "no YAML front matter: the card must start with a '---' block"))
        return None, text
    body = text[match.end() :]
    try:
        data = yaml.safe_load(match.group(2))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        first_line = text[: match.start(2)].count("\n") + 1
        where = f" at line {first_line + mark.line}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.append(LintProblem("front-matter", f"front matter is not valid YAML{where}: {problem}"))
        return None, body
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(LintProblem("front-matter", "front matter must be a YAML mapping (key: value lines)"))
        return None, body
    return data, body


def _card_data(metadata: dict[str, Any], problems: list[LintProblem]) -> ModelCardData | None:
    """Parse the metadata exactly as huggingface_hub does when it loads a card (model-index included)."""
    try:
        return ModelCardData(**{str(k): v for k, v in metadata.items()})
    except (ValueError, TypeError) as exc:
        message = " ".join(str(exc).split()).split(" Pass `ignore_metadata_errors")[0]
        problems.append(LintProblem("front-matter", f"huggingface_hub cannot parse the metadata: {message}"))
        return None


def check_yaml_traps(metadata: dict[str, Any]) -> list[LintProblem]:
    """YAML 1.1 reads unquoted no/yes/on/off as booleans: `language: no` (Norwegian) becomes False."""
    problems = []
    for key in _STRING_KEYS:
        value = metadata.get(key)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, bool):
                hint = " (Norwegian is language: 'no')" if key == "language" else ""
                problems.append(
                    LintProblem(
                        "yaml-trap",
                        f"front matter {key}: an unquoted value is read by YAML as the boolean {item}; quote it{hint}",
                    )
                )
    return problems


def check_required(metadata: dict[str, Any]) -> list[LintProblem]:
    problems = []
    for key in ("base_model", "library_name", "pipeline_tag", "license", "language"):
        if metadata.get(key) in (None, "", []):
            problems.append(LintProblem("metadata-missing", f"front matter has no {key}"))
    relation = metadata.get("base_model_relation")
    if relation is not None and relation not in RELATIONS:
        problems.append(
            LintProblem(
                "metadata-invalid",
                f"base_model_relation is {relation!r}; the Hub accepts {', '.join(sorted(RELATIONS))}",
            )
        )
    return problems


def check_base_model(metadata: dict[str, Any]) -> list[LintProblem]:
    """base_model must be a Hub id: a local path links nowhere and leaks the author's file system."""
    value = metadata.get("base_model")
    problems = []
    for item in value if isinstance(value, list) else [value]:
        if item is None or isinstance(item, bool):
            continue
        text = str(item)
        if looks_like_local_path(text) or not is_hub_id(text):
            problems.append(
                LintProblem(
                    "base-model",
                    f"base_model {text!r} is not a Hub model id (namespace/name); a local path must not be published",
                )
            )
    return problems


def check_license(metadata: dict[str, Any]) -> list[LintProblem]:
    """`license` must be an id from the Hub's list (hubkit/data/hub_licenses.txt); `other` needs a license_name."""
    value = metadata.get("license")
    if value in (None, "") or isinstance(value, bool):
        return []  # missing: check_required; boolean: check_yaml_traps
    problems = []
    for item in value if isinstance(value, list) else [value]:
        if str(item) not in hub_license_ids():
            problems.append(
                LintProblem(
                    "license",
                    f"license {item!r} is not a license id the Hub knows (see "
                    "https://huggingface.co/docs/hub/repositories-licenses); use one of them, or 'other' "
                    "with license_name",
                )
            )
        elif item == "other" and not metadata.get("license_name"):
            problems.append(LintProblem("license", "license is 'other' but there is no license_name"))
    return problems


# Split names hubkit (or a user) might give its own held-out slice; no source dataset is split that way by hubkit.
_HELD_OUT_SPLITS = {"eval", "evaluation", "held-out", "held_out", "heldout", "holdout", "hold-out"}


def check_model_index_shape(card_data: ModelCardData) -> list[LintProblem]:
    """One result per dataset, each naming a real Hub dataset id and that dataset's own config and split.

    A combined id (`a/x+b/y`) is no Hub id, so the Hub links the result to nothing; the held-out slice is not a
    split of the source dataset (it belongs in the result's name/args), and a result without config/split cannot be
    traced to the rows it was scored on.
    """
    problems = []
    seen: dict[tuple, str] = {}
    for result in card_data.eval_results or []:
        dataset = result.dataset_type
        where = f"model-index result on {dataset!r}"
        if not is_hub_id(str(dataset)):
            problems.append(
                LintProblem(
                    "model-index-dataset",
                    f"{where}: dataset.type is not a Hub dataset id (namespace/name); give each dataset its own result",
                )
            )
        if not result.dataset_config:
            problems.append(
                LintProblem(
                    "model-index-dataset",
                    f"{where}: dataset.config is missing (the source dataset's config, 'default' when it has none)",
                )
            )
        split = result.dataset_split
        if not split:
            problems.append(
                LintProblem(
                    "model-index-dataset",
                    f"{where}: dataset.split is missing (the source dataset's split the examples came from)",
                )
            )
        elif str(split).lower() in _HELD_OUT_SPLITS:
            problems.append(
                LintProblem(
                    "model-index-dataset",
                    f"{where}: split {split!r} is not a split of the "
                    "source dataset; name the source split and describe the held-out slice "
                    "in dataset.name/args",
                )
            )
        key = (result.task_type, dataset, result.dataset_config, result.dataset_split, result.metric_type)
        if key in seen:
            problems.append(
                LintProblem(
                    "model-index-dataset",
                    f"{where}: {result.metric_type} is reported twice for the same task, dataset, config and split",
                )
            )
        seen[key] = dataset
    return problems


# --- body ----------------------------------------------------------------------------------------------------------


def check_placeholders(text: str) -> list[LintProblem]:
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern, what in _PLACEHOLDERS:
            if pattern.search(line):
                problems.append(LintProblem("placeholder", f"line {number}: placeholder {what}"))
    return problems


def check_tokens(text: str) -> list[LintProblem]:
    """Anything shaped like a secret (hubkit.secret_scan): code `token` for Hub tokens of every shape, `secret` for
    the rest. The message names the line and the kind, never the secret."""
    return [
        LintProblem(
            "token" if found.is_hub_token else "secret",
            f"line {found.line}: something that looks like a {found.description}; remove it and revoke it",
        )
        for found in find_secrets(text)
    ]


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner)]


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def _body_value(body: str, names: list[str]) -> tuple[float, int] | None:
    """First numeric cell of the first table row whose first cell names the metric: (value, decimals shown)."""
    wanted = [_normal(n) for n in names if n]
    for line in body.splitlines():
        if not line.lstrip().startswith("|"):
            continue
        cells = _cells(line)
        label = _normal(cells[0]) if cells else ""
        if not any(label == w or label.startswith(w + " ") for w in wanted):
            continue
        for cell in cells[1:]:
            match = _NUMBER_CELL.match(cell)
            if match:
                return float(match.group(1).replace(",", "")), len(match.group(2) or "")
    return None


def _dataset_section(body: str, dataset: str) -> str | None:
    """The card body under the heading that names `dataset` (up to the next heading of the same or higher level)."""
    lines = body.splitlines()
    for i, line in enumerate(lines):
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if heading is None:
            continue
        words = re.sub(r"[`*]", "", heading.group(2)).split()
        if not words or words[0] != dataset:
            continue
        level = len(heading.group(1))
        end = next(
            (
                j
                for j in range(i + 1, len(lines))
                if (m := re.match(r"^(#{1,6})\s", lines[j])) and len(m.group(1)) <= level
            ),
            len(lines),
        )
        return "\n".join(lines[i + 1 : end])
    return None


def check_model_index(card_data: ModelCardData, body: str) -> list[LintProblem]:
    """Each model-index score must be the number the body shows for that metric (at the shown precision), in the
    section headed by the result's dataset: a per-dataset score checked against a pooled table proves nothing."""
    problems = []
    for result in card_data.eval_results or []:
        value = result.metric_value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(
                LintProblem("model-index", f"model-index {result.metric_type} value {value!r} is not a number")
            )
            continue
        label = result.metric_name or result.metric_type
        dataset = str(result.dataset_type)
        section = _dataset_section(body, dataset)
        if section is None:
            problems.append(
                LintProblem(
                    "model-index",
                    f"model-index reports {label} on {dataset} but no heading in the card body names {dataset}",
                )
            )
            continue
        shown = _body_value(section, [result.metric_name or result.metric_type, result.metric_type.replace("_", " ")])
        if shown is None:
            problems.append(
                LintProblem(
                    "model-index",
                    f"model-index reports {label} = {value} on {dataset} but no table row in that section of the "
                    f"card body shows {label}",
                )
            )
            continue
        number, decimals = shown
        if abs(number - float(value)) > 0.5 * 10 ** (-decimals) + 1e-9:
            problems.append(
                LintProblem(
                    "model-index",
                    f"model-index reports {label} = {value} on {dataset} but the card body shows "
                    f"{label} = {number:.{decimals}f}",
                )
            )
    return problems


_PYTHON_BLOCK = re.compile(r"^```(?:python|py)[ \t]*\n(.*?)^```", re.S | re.M)


def usage_repo_ids(code: str) -> list[str]:
    """The repo ids a Python usage block loads: `pipeline(..., model="X")`, `*.from_pretrained("X", ...)` and
    `repo_id = "X"` (also `repo_id, revision = "X", "main"`). Raises SyntaxError for code that does not parse."""
    import ast

    found: list[str] = []

    def literal(node: ast.AST | None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)

    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name == "pipeline":
                for keyword in node.keywords:
                    if keyword.arg == "model":
                        literal(keyword.value)
            elif name == "from_pretrained" and node.args:
                literal(node.args[0])
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == "repo_id":
                    literal(node.value)
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    for t, v in zip(target.elts, node.value.elts):
                        if isinstance(t, ast.Name) and t.id == "repo_id":
                            literal(v)
    return found


def check_usage_repo_id(body: str, repo_id: str) -> list[LintProblem]:
    """Every Python block that loads a model must load `repo_id`, the repo being pushed: a copied snippet that points
    at another repo (or at a bare model name) is a 404 or, worse, someone else's model."""
    problems = []
    for number, match in enumerate(_PYTHON_BLOCK.finditer(body), start=1):
        try:
            ids = usage_repo_ids(match.group(1))
        except SyntaxError as exc:
            problems.append(
                LintProblem("usage-repo", f"Python block {number} is not valid Python (line {exc.lineno}: {exc.msg})")
            )
            continue
        for other in sorted(set(ids) - {repo_id}):
            problems.append(
                LintProblem(
                    "usage-repo",
                    f"Python block {number} loads {other!r}, not the repo being "
                    f"pushed ({repo_id!r}); rebuild the card with --repo-id {repo_id}",
                )
            )
    return problems


# --- files beside the card ----------------------------------------------------------------------------------------


def check_files(metadata: dict[str, Any], model_dir: Path) -> list[LintProblem]:
    """library_name and pipeline_tag must describe the files that will be published with the card."""
    problems = []
    library = metadata.get("library_name")
    has_config = (model_dir / "config.json").is_file()
    has_weights = any((model_dir / name).is_file() for name in WEIGHT_FILES) or any(
        model_dir.glob("model-*-of-*.safetensors")
    )
    has_adapter = (model_dir / "adapter_config.json").is_file()
    if library == "transformers":
        if has_adapter:
            problems.append(
                LintProblem(
                    "library-name",
                    f"library_name is transformers but {model_dir} holds adapter_config.json "
                    "(a PEFT adapter): publish the merged model, or set library_name: peft",
                )
            )
        if not has_config:
            problems.append(
                LintProblem("library-name", f"library_name is transformers but {model_dir} has no config.json")
            )
        if not has_weights:
            problems.append(
                LintProblem(
                    "library-name",
                    f"library_name is transformers but {model_dir} has no model weights "
                    f"({' / '.join(WEIGHT_FILES[::2])})",
                )
            )
    elif library == "peft":
        if not has_adapter or not any((model_dir / name).is_file() for name in ADAPTER_FILES):
            problems.append(
                LintProblem(
                    "library-name",
                    f"library_name is peft but {model_dir} has no adapter_config.json and adapter weights",
                )
            )
    tag = metadata.get("pipeline_tag")
    if tag and has_config:
        problems += _check_pipeline_tag(str(tag), model_dir / "config.json")
    return problems


def _check_pipeline_tag(tag: str, config_path: Path) -> list[LintProblem]:
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return [LintProblem("pipeline-tag", f"{config_path} is not valid JSON, so pipeline_tag cannot be checked")]
    architectures = config.get("architectures") if isinstance(config, dict) else None
    if not architectures or not isinstance(architectures, list):
        return [
            LintProblem("pipeline-tag", f"{config_path} names no architectures; pipeline_tag {tag!r} is unverified")
        ]
    arch = str(architectures[0])
    expected = next((t for suffix, t in ARCHITECTURE_TAGS.items() if arch.endswith(suffix)), None)
    if expected is None:
        return [
            LintProblem(
                "pipeline-tag",
                f"architecture {arch} (config.json) has no known pipeline; pipeline_tag {tag!r} is unverified",
            )
        ]
    if expected != tag:
        return [
            LintProblem(
                "pipeline-tag", f"pipeline_tag is {tag!r} but config.json's architecture {arch} is a {expected} model"
            )
        ]
    return []
