"""The Hub's check of a README's YAML metadata: what `POST /api/validate-yaml` answers and what a commit must pass.

Why: `upload_folder` asks the Hub to validate a README before uploading, and the Hub refuses a commit whose README
metadata is invalid. The local Hub must refuse the same cards, or a license outside the Hub's list passes offline and
fails on the real Hub after the weights went up. Checked here: the YAML parses (duplicate keys are an error, as in the
Hub's parser), `license` is in the Hub's list, `model-index` has the Hub's shape, `base_model` and `datasets` are valid
repo ids, and a Space's `sdk`, colors and `short_description`. Messages follow the Hub's `"field" ...` style.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from ..data import hub_license_ids
from .cards import split_front_matter
from .storage import SPACE_SDKS

SPACE_COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")
SHORT_DESCRIPTION_MAX = 60
_CARD_DOCS = {
    "model": "https://huggingface.co/docs/hub/model-cards#model-card-metadata",
    "dataset": "https://huggingface.co/docs/hub/datasets-cards",
    "space": "https://huggingface.co/docs/hub/spaces-config-reference",
}


@dataclass
class CardCheck:
    """Errors make the Hub answer 400 (and refuse a commit); warnings are returned beside a 200."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (the Hub's YAML parser does)."""


def _mapping_without_duplicates(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"Map keys must be unique: {key!r} appears twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def check_card(content: str, repo_type: str = "model") -> CardCheck:
    """Validate a README's front matter as the Hub does for `repo_type` ("model", "dataset" or "space")."""
    result = CardCheck()
    parts = split_front_matter(content)
    docs = _CARD_DOCS.get(repo_type, _CARD_DOCS["model"])
    if parts is None or not parts[0].strip():
        result.warnings.append(f"empty or missing yaml metadata in repo card ({docs})")
        return result
    try:
        data = yaml.load(parts[0], Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        result.errors.append(f"Error: YAML metadata is invalid: {' '.join(str(exc).split())}")
        return result
    if data is None:
        result.warnings.append(f"empty or missing yaml metadata in repo card ({docs})")
        return result
    if not isinstance(data, dict):
        result.errors.append('"metadata" must be of type object')
        return result
    _check_license(data, result)
    _check_repo_ids(data, "base_model", result)
    _check_repo_ids(data, "datasets", result)
    if "model-index" in data:
        _check_model_index(data["model-index"], result)
    if repo_type == "space":
        _check_space(data, result)
    return result


def _check_license(data: dict, result: CardCheck) -> None:
    if "license" not in data:
        return
    value = data["license"]
    values = value if isinstance(value, list) else [value]
    known = hub_license_ids()
    for index, item in enumerate(values):
        where = f'"license[{index}]"' if isinstance(value, list) else '"license"'
        if not isinstance(item, str) or item not in known:
            result.errors.append(
                f"{where} must be one of the Hub's license identifiers (got {item!r}; see "
                "https://huggingface.co/docs/hub/repositories-licenses)"
            )
    if "other" in values and not data.get("license_name"):
        result.warnings.append('"license_name" should be set when "license" is "other"')


def _check_repo_ids(data: dict, key: str, result: CardCheck) -> None:
    if key not in data or data[key] is None:
        return
    value = data[key]
    values = value if isinstance(value, list) else [value]
    for index, item in enumerate(values):
        where = f'"{key}[{index}]"' if isinstance(value, list) else f'"{key}"'
        if not isinstance(item, str):
            result.errors.append(f"{where} must be a string")
            continue
        try:
            validate_repo_id(item)
        except HFValidationError as exc:
            result.errors.append(f"{where} is not a valid repo id: {exc}")


def _require(obj, path: str, keys: tuple[str, ...], result: CardCheck) -> bool:
    if not isinstance(obj, dict):
        result.errors.append(f'"{path}" must be of type object')
        return False
    for key in keys:
        if key not in obj or obj[key] in (None, ""):
            result.errors.append(f'"{path}.{key}" is required')
    return True


def _check_model_index(model_index, result: CardCheck) -> None:
    if not isinstance(model_index, list):
        result.errors.append('"model-index" must be an array')
        return
    for i, model in enumerate(model_index):
        where = f"model-index[{i}]"
        if not _require(model, where, ("name", "results"), result):
            continue
        results = model.get("results")
        if results is None:
            continue
        if not isinstance(results, list):
            result.errors.append(f'"{where}.results" must be an array')
            continue
        for j, entry in enumerate(results):
            at = f"{where}.results[{j}]"
            if not _require(entry, at, ("task", "dataset", "metrics"), result):
                continue
            if "task" in entry:
                _require(entry["task"], f"{at}.task", ("type",), result)
            if "dataset" in entry:
                _require(entry["dataset"], f"{at}.dataset", ("type", "name"), result)
            metrics = entry.get("metrics")
            if metrics is None:
                continue
            if not isinstance(metrics, list):
                result.errors.append(f'"{at}.metrics" must be an array')
                continue
            for k, metric in enumerate(metrics):
                if _require(metric, f"{at}.metrics[{k}]", ("type", "value"), result):
                    value = metric.get("value")
                    if isinstance(value, (dict, list)):
                        result.errors.append(f'"{at}.metrics[{k}].value" must be a number or a string')


def _check_space(data: dict, result: CardCheck) -> None:
    sdk = data.get("sdk")
    if sdk is not None and sdk not in SPACE_SDKS:
        result.errors.append(f'"sdk" must be one of [{", ".join(SPACE_SDKS)}]')
    for key in ("colorFrom", "colorTo"):
        if key in data and data[key] not in SPACE_COLORS:
            result.errors.append(f'"{key}" must be one of [{", ".join(SPACE_COLORS)}]')
    description = data.get("short_description")
    if description is not None and (not isinstance(description, str) or len(description) > SHORT_DESCRIPTION_MAX):
        result.errors.append(
            f'"short_description" length must be less than or equal to {SHORT_DESCRIPTION_MAX} characters long'
        )
    _check_repo_ids(data, "models", result)
