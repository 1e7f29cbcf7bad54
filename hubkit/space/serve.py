"""Run a Space's app locally, against the model on the Hub that `HF_ENDPOINT` names (a local Hub works).

The app runs in a child process (`python app.py`), exactly as a Space runs it: hubkit itself never imports gradio.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import HubkitError
from .render import APP_FILE, MODEL_ID_ENV


def require_gradio() -> None:
    if importlib.util.find_spec("gradio") is None:
        raise HubkitError("gradio is not installed: pip install 'hubkit[space]'")


def app_env(model_id: str | None, host: str, port: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The app's environment: where to listen, no analytics calls (the app may run offline), and the model id (None:
    the app's default, the model the Space was published for)."""
    env = dict(os.environ if base is None else base)
    env.pop(MODEL_ID_ENV, None)
    if model_id is not None:
        env[MODEL_ID_ENV] = model_id
    env.update(
        {
            "GRADIO_SERVER_NAME": host,
            "GRADIO_SERVER_PORT": str(port),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def start_app(
    folder: str | Path,
    model_id: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    env: dict[str, str] | None = None,
    **popen,
) -> subprocess.Popen:
    """Start `python app.py` in `folder` (a Space) in the background; see `wait_until_up`."""
    folder = Path(folder)
    if not (folder / APP_FILE).is_file():
        raise HubkitError(f"no {APP_FILE} in {folder}")
    return subprocess.Popen([sys.executable, APP_FILE], cwd=folder, env=app_env(model_id, host, port, env), **popen)


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    """Block until `url` answers (the app loaded its model and listens), or raise when the app exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HubkitError(f"the app exited with code {process.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.5)
    raise HubkitError(f"the app did not answer at {url} within {timeout:.0f} s")


def serve(folder: str | Path, model_id: str, *, host: str = "127.0.0.1", port: int = 7860) -> int:
    """Run the app in the foreground until it exits (Ctrl-C stops it); returns its exit code."""
    require_gradio()
    try:
        command = [sys.executable, APP_FILE]
        return subprocess.run(command, cwd=Path(folder), env=app_env(model_id, host, port), check=False).returncode
    except KeyboardInterrupt:
        return 0
