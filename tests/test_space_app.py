"""The published demo, running: the app of the Space repo downloaded from the local Hub, against the model on it.

- `gradio_client` (the real client) asks every example and gets exactly the answer and score the card shows;
- a real browser (headless Chromium driven by selenium) clicks the first example, submits, and reads the answer;
  it saves a screenshot under the test's tmp dir (HUBKIT_UPDATE_SCREENSHOT=1 also writes docs/space-demo.png);
- `hubkit space --serve` serves the same app before anything is published.

Where Chromium is absent the browser test skips with the reason, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hubkit.errors import HubkitError
from hubkit.localhub import LocalHub
from hubkit.record import RunRecord

from .conftest import ROOT
from .helpers import SENTINEL, USER, build_published_run
from .space_helpers import publish_model, require_gradio

MODEL = f"{USER}/tiny-finance-qa"
SPACE = f"{USER}/tiny-finance-qa-demo"
SCREENSHOT = ROOT / "docs" / "space-demo.png"

require_gradio()  # the app runs on gradio (the [space] extra)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_environment(hub: LocalHub, home: Path) -> dict[str, str]:
    """What a Space gives its app: no token, a fresh cache; HF_ENDPOINT is the one thing pointing at the local Hub."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_", "HUBKIT_"))}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(home), NO_PROXY="127.0.0.1,localhost", TOKENIZERS_PARALLELISM="false")
    return env


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A tiny model and its Space, published on a local Hub with `hubkit space`; yields (hub, record, space folder)."""
    from huggingface_hub import snapshot_download

    from hubkit.space.publish import publish_space

    work = tmp_path_factory.mktemp("space-app")
    run = build_published_run(work / "run", MODEL)
    with LocalHub.start(work / "hub", tokens={SENTINEL: USER}) as hub:
        publish_model(hub, SENTINEL, MODEL, run)
        result = publish_space(MODEL, endpoint=hub.url, token=SENTINEL)
        assert result.space_id == SPACE and result.committed
        folder = snapshot_download(
            SPACE, repo_type="space", endpoint=hub.url, token=SENTINEL, cache_dir=work / "download"
        )
        yield hub, RunRecord.load(run), Path(folder)


@pytest.fixture(scope="module")
def app(published, tmp_path_factory):
    """The downloaded Space's app.py, started as a Space starts it; HUBKIT_MODEL_ID unset, so the default id is used."""
    from hubkit.space.serve import start_app, wait_until_up

    hub, record, folder = published
    port = free_port()
    log = tmp_path_factory.mktemp("app-log") / "app.log"
    with log.open("w") as out:
        process = start_app(
            folder,
            None,
            port=port,
            env=app_environment(hub, tmp_path_factory.mktemp("app-home")),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        try:
            wait_until_up(url, process, timeout=240)
        except HubkitError:
            pytest.fail(f"the app did not start: {log.read_text()[-2000:]}")
        yield url, record
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_app_answers_every_example_as_the_card_says(app):
    from gradio_client import Client

    url, record = app
    client = Client(url, verbose=False)
    for example in record.smoke_examples:
        answer, score = client.predict(example.question, example.context, api_name="/answer")
        assert answer == example.answer
        assert f"{score:.4f}" == f"{example.score:.4f}"  # the card shows the score with 4 decimals


def _chromium() -> tuple[str, str] | None:
    browser = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def test_a_real_browser_clicks_an_example_and_reads_the_answer(app, tmp_path):
    found = _chromium()
    if found is None:
        reason = "Chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must run the browser test")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, record = app
    browser, driver_path = found
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1000,900",
        "--hide-scrollbars",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 60)
        first = record.smoke_examples[0]
        cell = '#examples [data-testid="dataset-cell-0-0"], #examples .gallery-item'  # the first example's first cell
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, cell))).click()

        def value(selector: str) -> str:
            return driver.find_element(By.CSS_SELECTOR, selector).get_attribute("value") or ""

        wait.until(lambda d: value("#question textarea, #question input") == first.question)
        assert value("#context textarea") == first.context
        driver.find_element(By.CSS_SELECTOR, "#submit").click()
        wait.until(lambda d: value("#answer textarea, #answer input") != "")
        assert value("#answer textarea, #answer input") == first.answer
        assert f"{float(value('#score input')):.4f}" == f"{first.score:.4f}"
        shot = tmp_path / "space-demo.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 1000
        if os.environ.get("HUBKIT_UPDATE_SCREENSHOT") == "1":
            SCREENSHOT.parent.mkdir(exist_ok=True)
            shutil.copyfile(shot, SCREENSHOT)
    finally:
        driver.quit()


def test_space_serve_runs_the_app_locally_before_publishing(published, tmp_path):
    """`hubkit space --serve` renders the app and serves it against the model on the Hub; nothing is published."""
    from gradio_client import Client

    from hubkit.space.serve import wait_until_up

    hub, record, _ = published
    port = free_port()
    env = app_environment(hub, tmp_path / "home")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    space = f"{USER}/served-not-published"
    command = [
        sys.executable,
        "-m",
        "hubkit.cli",
        "space",
        "--model",
        MODEL,
        "--repo",
        space,
        "--serve",
        "--port",
        str(port),
        "--out",
        str(tmp_path / "space"),
    ]
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            wait_until_up(f"http://127.0.0.1:{port}/", process, timeout=240)
        except HubkitError:
            pytest.fail(f"hubkit space --serve did not serve: {log.read_text()[-2000:]}")
        example = record.smoke_examples[-1]
        answer, _ = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
            example.question, example.context, api_name="/answer"
        )
        assert answer == example.answer
        assert (tmp_path / "space" / "app.py").is_file()
    finally:
        os.killpg(process.pid, 15)  # the command and the app it started
        process.wait(timeout=30)
    from huggingface_hub import HfApi

    assert not HfApi(endpoint=hub.url, token=SENTINEL).repo_exists(space, repo_type="space")
