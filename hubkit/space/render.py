"""Render a Gradio Space for a published model from its run record: app.py, requirements.txt and README.md.

Templates live in `templates/space/` beside the card's, rendered with the card's filters and `StrictUndefined`.
The context is plain data taken from the record (examples, their answers, versions, card text), so the same record,
model id and gradio version always give the same bytes. Nothing here imports gradio, torch or transformers: the
Space's `sdk_version` is read from the installed gradio's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Any

import jinja2
import yaml

from .. import __version__
from ..card.formatting import FILTERS, sentence
from ..card.render import TEMPLATES_DIR
from ..errors import HubkitError
from ..record import RunRecord

SPACE_TEMPLATES = "space"
APP_FILE = "app.py"
README_FILE = "README.md"
REQUIREMENTS_FILE = "requirements.txt"
SPACE_FILES = (README_FILE, APP_FILE, REQUIREMENTS_FILE)
SDK = "gradio"
MODEL_ID_ENV = "HUBKIT_MODEL_ID"  # app.py reads the model id from it; the pushed id is the default
# hubkit's own transformers pin (pyproject.toml; a test keeps them equal): the question-answering pipeline the app
# uses was removed in 5.3.
TRANSFORMERS_PIN = ">=5.0,<5.3"
HUB_URL = "https://huggingface.co"
EMOJI = "💬"
COLORS = ("blue", "green")  # colorFrom, colorTo
SHORT_DESCRIPTION_MAX = 60  # the Hub rejects a longer short_description


@dataclass(frozen=True)
class SpaceFiles:
    """The rendered Space: file name -> text, in SPACE_FILES order."""

    files: dict[str, str]
    model_id: str
    space_id: str
    sdk_version: str

    def write(self, folder) -> None:
        from pathlib import Path

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            (folder / name).write_text(text, encoding="utf-8", newline="\n")


def installed_gradio_version() -> str:
    """The installed gradio's version, from its metadata (gradio itself is not imported)."""
    try:
        return metadata.version("gradio")
    except metadata.PackageNotFoundError:
        raise HubkitError(
            "gradio is not installed: pip install 'hubkit[space]' (the Space runs the installed gradio version)"
        ) from None


def short_description(model_name: str) -> str:
    """A one-line description of at most SHORT_DESCRIPTION_MAX characters."""
    for text in (
        f"Ask {model_name} a question about a text",
        f"Try {model_name}",
        "Extractive question answering demo",
    ):
        if len(text) <= SHORT_DESCRIPTION_MAX:
            return text
    raise AssertionError("unreachable: the last description is short")


def _release(version: str) -> str:
    """`2.13.0+cpu` -> `2.13.0`: the CPU index serves the local variant under the plain version."""
    return version.split("+", 1)[0]


def transformers_requirement(record: RunRecord) -> str:
    """The transformers version the model was trained and verified with; it must be within hubkit's pin."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    version = _release(record.versions.transformers)
    try:
        ok = Version(version) in SpecifierSet(TRANSFORMERS_PIN)
    except InvalidVersion:
        ok = False
    if not ok:
        raise HubkitError(
            f"the run used transformers {record.versions.transformers}, outside hubkit's pin transformers"
            f"{TRANSFORMERS_PIN}; retrain with a supported transformers before publishing a demo"
        )
    return version


def sentiment_format(record: RunRecord) -> dict[str, str] | None:
    """The options-format question and context prefix when a dataset of the run used it, else None."""
    if not any(d.format == "options" for d in record.datasets):
        return None
    from ..train.kinds import (  # the dataset kinds' one owner
        OPTIONS_PREFIX,
        SENTIMENT_QUESTION,
    )

    return {"question": SENTIMENT_QUESTION, "prefix": OPTIONS_PREFIX}


def space_front_matter(record: RunRecord, model_id: str, sdk_version: str) -> str:
    """The YAML the Hub reads for a Space (no delimiters, no trailing newline)."""
    data = {
        "title": record.card.model_name,
        "emoji": EMOJI,
        "colorFrom": COLORS[0],
        "colorTo": COLORS[1],
        "sdk": SDK,
        "sdk_version": sdk_version,
        "app_file": APP_FILE,
        "pinned": False,
        "license": record.card.license,
        "short_description": short_description(record.card.model_name),
        "models": [model_id],
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000).rstrip("\n")


def space_context(record: RunRecord, model_id: str, sdk_version: str) -> dict[str, Any]:
    """Everything the Space templates may use, as plain data."""
    title = record.card.model_name
    return {
        "title": title,
        "heading": f"# {title}\n\n{sentence(record.card.summary)}\n\n"
        "Ask a question about a context: the answer is a span of the context. Click an example to fill both boxes.",
        "summary": record.card.summary,
        "model_id": model_id,
        "model_url": f"{HUB_URL}/{model_id}",
        "hub_url": HUB_URL,
        "examples": [e.model_dump(mode="json") for e in record.smoke_examples],
        "sentiment": sentiment_format(record),
        "run_name": record.run_name,
        "hubkit_version": __version__,
        "sdk_version": sdk_version,
        "app_file": APP_FILE,
        "front_matter": space_front_matter(record, model_id, sdk_version),
        "torch_version": _release(record.versions.torch),
        "transformers_version": transformers_requirement(record),
    }


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR / SPACE_TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def render_space(record: RunRecord, model_id: str, space_id: str, *, sdk_version: str | None = None) -> SpaceFiles:
    """The Space's files for `model_id`, published as `space_id`. Same inputs -> same bytes."""
    sdk_version = sdk_version or installed_gradio_version()
    context = space_context(record, model_id, sdk_version)
    env = _environment()
    files = {}
    for name in SPACE_FILES:
        try:
            text = env.get_template(name + ".j2").render(context)
        except jinja2.TemplateError as exc:
            raise HubkitError(f"Space template {name}.j2: {exc}") from None
        files[name] = text if text.endswith("\n") else text + "\n"
    return SpaceFiles(files=files, model_id=model_id, space_id=space_id, sdk_version=sdk_version)
