"""A Gradio Space for a published model: rendered from its run record, linted offline, published in one commit.

- `render`: app.py, requirements.txt and README.md from `templates/space/` (Jinja2, deterministic);
- `lint`: offline checks (front matter, app compiles and loads the pushed model, pins, no token-shaped strings);
- `publish`: `hubkit space` as a library call (`publish_space`), and the card's "Try it" link;
- `serve`: runs the app locally in a child process.

hubkit never imports gradio: the app does, in its own process. Submodules load on first use.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "render_space": "render",
    "SpaceFiles": "render",
    "lint_space": "lint",
    "publish_space": "publish",
    "SpaceResult": "publish",
    "start_app": "serve",
    "wait_until_up": "serve",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hubkit.space' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
