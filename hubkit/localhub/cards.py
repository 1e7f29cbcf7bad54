"""What the Hub derives from a repo's README front matter and config.json: cardData, pipeline_tag, library_name, tags.

Why: `transformers.pipeline(model=repo)` without a task reads `pipeline_tag` and `library_name` from `model_info`, and
`datasets` reads a dataset card's `configs`; the Hub computes these fields from the files, so the local Hub does too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

# config.json `architectures` suffix -> the pipeline tag the Hub infers (first match wins)
_ARCHITECTURE_TASKS = (
    ("ForQuestionAnswering", "question-answering"),
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"),
    ("ForMaskedLM", "fill-mask"),
    ("ForCausalLM", "text-generation"),
    ("ForConditionalGeneration", "text2text-generation"),
    ("ForMultipleChoice", "multiple-choice"),
    ("ForImageClassification", "image-classification"),
)


def split_front_matter(text: str) -> tuple[str, str] | None:
    """(YAML text, body) of a README that starts with a `---` block; None without one."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    return None


def front_matter(text: str) -> dict | None:
    """The README's YAML front matter as a dict: None without a block, {} when it does not parse to a mapping."""
    parts = split_front_matter(text)
    if parts is None:
        return None
    try:
        data = yaml.safe_load(parts[0])
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class ModelFacts:
    pipeline_tag: str | None
    library_name: str | None
    tags: list[str] = field(default_factory=list)


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def model_facts(card: dict, config: dict | None, files: list[str]) -> ModelFacts:
    """The card's `pipeline_tag`/`library_name` if given, else what config.json implies; tags as the Hub derives."""
    library = card.get("library_name") or ("transformers" if config is not None else None)
    task = card.get("pipeline_tag")
    if not task and config is not None and library == "transformers":
        for architecture in _as_list(config.get("architectures")):
            task = next((t for suffix, t in _ARCHITECTURE_TASKS if architecture.endswith(suffix)), None)
            if task:
                break
    tags: list[str] = []
    tags += [str(library)] if library else []
    tags += ["safetensors"] if any(f.endswith(".safetensors") for f in files) else []
    tags += [str(config["model_type"])] if config and config.get("model_type") else []
    tags += [str(task)] if task else []
    tags += _as_list(card.get("tags"))
    tags += [f"base_model:{b}" for b in _as_list(card.get("base_model"))]
    tags += [f"dataset:{d}" for d in _as_list(card.get("datasets"))]
    tags += [f"license:{lic}" for lic in _as_list(card.get("license"))]
    tags.append("region:us")
    return ModelFacts(task or None, library or None, list(dict.fromkeys(tags)))


def dataset_tags(card: dict) -> list[str]:
    tags = _as_list(card.get("tags"))
    tags += [f"task_categories:{t}" for t in _as_list(card.get("task_categories"))]
    tags += [f"language:{lang}" for lang in _as_list(card.get("language"))]
    tags += [f"license:{lic}" for lic in _as_list(card.get("license"))]
    tags.append("region:us")
    return list(dict.fromkeys(tags))
