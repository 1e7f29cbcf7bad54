"""Publishing: stage a run, push it to the Hub as one smoke-tested commit, and the smoke test itself.

Submodules are imported on first use (PEP 562 `__getattr__`) so `import hubkit.publish` stays cheap and the smoke
test's child process (`python -m hubkit.publish.smoke`) does not import itself twice.
The push function is `hubkit.publish.push.push` (not re-exported here: the name is taken by the submodule).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "PushResult": "push",
    "smoke_test": "smoke",
    "SmokeReport": "smoke",
    "SmokeRow": "smoke",
    "SmokeTestFailed": "smoke",
    "BlockRun": "smoke",
    "stage_run": "stage",
    "make_plan": "stage",
    "resolve_token": "auth",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hubkit.publish' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
