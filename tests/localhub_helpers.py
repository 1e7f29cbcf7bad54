"""Fixtures and helpers for tests that talk to a local Hub with the real clients.

Use from another test module:

    from .localhub_helpers import local_hub, hub_api, subprocess_env, TOKEN, USER  # noqa: F401

`local_hub` is a running `LocalHub` (tmp root, one write token `TOKEN` for `USER`, plus `OTHER_TOKEN` for
`OTHER_USER`), stopped after the test. In-process clients take `endpoint=hub.url`; `transformers` and the `hf` CLI
read HF_ENDPOINT at import, so run them in a subprocess with `subprocess_env(hub, tmp_path / "home")`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hubkit.localhub import LocalHub

from .helpers import SENTINEL

TOKEN = "hf_localhub_test_write_token"
USER = "alice"
OTHER_TOKEN = "hf_localhub_test_other_token"
OTHER_USER = "bob"


@pytest.fixture
def local_hub(tmp_path: Path):
    """A LocalHub on a free port with its root under tmp_path; clients with hf_xet may push to it."""
    with LocalHub.start(tmp_path / "hub-root", tokens={TOKEN: USER, OTHER_TOKEN: OTHER_USER}) as hub:
        yield hub


@pytest.fixture(params=["xet", "lfs"])
def client_mode(request, local_hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test in both client modes: hf_xet enabled (server answers 'regular'), and HF_HUB_DISABLE_XET=1 with
    the server asking for LFS uploads (LFS batch API). In-process only: it patches huggingface_hub.constants."""
    from huggingface_hub import constants

    disable_xet = request.param == "lfs"
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", disable_xet)
    local_hub.lfs_uploads = disable_xet
    return request.param


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """One LocalHub per test module that imports this fixture; `USER` writes with the sentinel token (tests/helpers),
    which the publishing tests look for in every output and file."""
    with LocalHub.start(tmp_path_factory.mktemp("module-hub"), tokens={SENTINEL: USER}) as server:
        yield server


@pytest.fixture
def env(hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> LocalHub:
    """The module's `hub`, with in-process clients pointed at it as USER."""
    return point_clients_at(hub, monkeypatch, SENTINEL)


def hub_api(hub: LocalHub, token: str | None = TOKEN):
    """An HfApi bound to `hub` (token None: anonymous)."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=token if token is not None else False)


def subprocess_env(hub: LocalHub, home: Path, *, token: str | None = TOKEN, disable_xet: bool = False) -> dict:
    """Environment for a child process that uses `hub` through HF_ENDPOINT with an empty cache at `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_XET="1" if disable_xet else "0",
        NO_PROXY="127.0.0.1,localhost",
    )
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def point_clients_at(hub: LocalHub, monkeypatch: pytest.MonkeyPatch, token: str) -> LocalHub:
    """In-process clients (huggingface_hub reads these per call) talk to `hub` with `token`; no trusted publishing."""
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", token)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    return hub


@dataclass
class ServedHub:
    """A `hubkit hub serve` child process: its URL, and everything it printed once it has stopped."""

    url: str
    output: list[str] = field(default_factory=list)

    @property
    def printed(self) -> str:
        return "".join(self.output)


@contextlib.contextmanager
def hub_serve_process(*args: str) -> Iterator[ServedHub]:
    """Run `python -m hubkit.cli hub serve ARGS` as users do; yields once its banner names the URL, stops it on exit
    (then `.printed` holds the whole output)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hubkit.cli", "hub", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    served = ServedHub(url=banner.rsplit(" at ", 1)[-1].strip(), output=[banner])
    try:
        yield served
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        # read through the same text buffer as the banner: communicate() would skip the lines readline() buffered
        served.output.append(proc.stdout.read())
        proc.stdout.close()
