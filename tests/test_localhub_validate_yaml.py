"""The local Hub's `/api/validate-yaml` and commit-time card check reject what the Hub rejects.

Through the real client (`upload_folder` validates the README before uploading anything) and plain HTTP.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd

from hubkit.data import hub_license_ids
from hubkit.localhub import LocalHub, iter_requests
from hubkit.localhub.card_validation import check_card

from .localhub_helpers import TOKEN, USER, hub_api

REPO = f"{USER}/card-check"
GOOD = """---
license: apache-2.0
base_model: distilbert/distilbert-base-uncased
datasets:
- FinanceMTEB/financial_phrasebank
- explodinggradients/fiqa
model-index:
- name: distilbert-lora-finance-qa
  results:
  - task: {type: question-answering, name: Question answering}
    dataset: {type: FinanceMTEB/financial_phrasebank, name: Financial PhraseBank, config: default, split: train}
    metrics:
    - {type: exact_match, value: 91.2, name: Exact match}
---
# card
"""


def _post(hub: LocalHub, content, repo_type="model", accept: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}"} | ({"Accept": accept} if accept else {})
    return httpx.post(f"{hub.url}/api/validate-yaml", json={"content": content, "repoType": repo_type}, headers=headers)


def test_license_list_is_the_hubs_table():
    ids = hub_license_ids()
    assert {"apache-2.0", "mit", "cc-by-sa-4.0", "other", "unknown", "llama3.1"} <= ids
    assert "Apache-2.0" not in ids and "apache" not in ids and len(ids) > 60


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("license: Apache-2.0", '"license" must be one of'),
        ("license: [mit, not-a-license]", '"license[1]" must be one of'),
        ("base_model: FinanceMTEB/financial_phrasebank+explodinggradients/fiqa", '"base_model" is not a valid repo'),
        ("datasets: [ok/name, bad--name/x]", '"datasets[1]" is not a valid repo id'),
        ("model-index: {name: x}", '"model-index" must be an array'),
        ("model-index:\n- results: []", '"model-index[0].name" is required'),
        (
            "model-index:\n- name: x\n  results:\n  - task: {type: question-answering}\n    metrics: []",
            '"model-index[0].results[0].dataset" is required',
        ),
        (
            "model-index:\n- name: x\n  results:\n  - task: {}\n    dataset: {type: a/b}\n    metrics: [{type: f1}]",
            '"model-index[0].results[0].task.type" is required',
        ),
        (
            "model-index:\n- name: x\n  results:\n  - task: {type: t}\n    dataset: {type: a/b}\n    metrics: []",
            '"model-index[0].results[0].dataset.name" is required',
        ),
        (
            "model-index:\n- name: x\n  results:\n  - task: {type: t}\n    dataset: {type: a/b, name: n}\n"
            "    metrics: [{type: f1}]",
            '"model-index[0].results[0].metrics[0].value" is required',
        ),
        ("license: mit\nlicense: apache-2.0", "Map keys must be unique"),
        ("license: [unclosed", "YAML metadata is invalid"),
        ("- just\n- a list", '"metadata" must be of type object'),
    ],
)
def test_invalid_metadata_is_a_400_with_the_hubs_message(local_hub: LocalHub, yaml_text: str, message: str):
    response = _post(local_hub, f"---\n{yaml_text}\n---\n# card\n")
    assert response.status_code == 400, response.text
    assert any(message in e["message"] for e in response.json()["errors"]), response.json()
    assert message in response.headers["X-Error-Message"] or message in response.json()["error"]
    plain = _post(local_hub, f"---\n{yaml_text}\n---\n", accept="text/plain")  # as RepoCard.validate asks
    assert plain.status_code == 400 and message in plain.text


def test_valid_card_and_missing_metadata_warning(local_hub: LocalHub):
    ok = _post(local_hub, GOOD)
    assert ok.status_code == 200 and ok.json() == {"errors": [], "warnings": []}
    bare = _post(local_hub, "# no metadata\n")
    assert bare.status_code == 200 and "empty or missing yaml metadata" in bare.json()["warnings"][0]["message"]
    other = _post(local_hub, "---\nlicense: other\n---\n")
    assert other.status_code == 200 and "license_name" in other.json()["warnings"][0]["message"]
    assert _post(local_hub, "x", repo_type="bucket").status_code == 400
    assert httpx.post(f"{local_hub.url}/api/validate-yaml", json={"content": 1}).status_code == 400


def test_space_metadata(local_hub: LocalHub):
    good = (
        "---\ntitle: Demo\nsdk: gradio\nsdk_version: 5.0.0\napp_file: app.py\ncolorFrom: blue\ncolorTo: gray\n"
        "models: [alice/model]\nshort_description: Ask the finance QA model\n---\n"
    )
    assert _post(local_hub, good, repo_type="space").status_code == 200
    for bad, message in [
        ("sdk: flask", '"sdk" must be one of'),
        ("colorFrom: orange", '"colorFrom"'),
        (f"short_description: {'x' * 61}", '"short_description" length'),
        ("models: [not a repo]", '"models[0]"'),
    ]:
        response = _post(local_hub, f"---\n{bad}\n---\n", repo_type="space")
        assert response.status_code == 400 and message in response.json()["error"], (bad, response.text)
    assert check_card("---\nsdk: flask\n---\n", "model").ok  # only a Space's card has an sdk to check


def test_upload_folder_is_refused_before_any_upload_and_a_commit_with_a_bad_card_too(
    local_hub: LocalHub, tmp_path: Path
):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / "README.md").write_text("---\nlicense: apache2\n---\n# card\n")
    (folder / "model.safetensors").write_bytes(b"\x00" * 2048)
    with pytest.raises(ValueError, match='"license" must be one of'):
        api.upload_folder(repo_id=REPO, folder_path=folder)
    assert not [r for r in local_hub.requests if "/preupload/" in r.path or "/commit/" in r.path]

    with pytest.raises(ValueError, match='"license" must be one of'):  # create_commit asks first too
        api.create_commit(
            REPO,
            operations=[CommitOperationAdd("README.md", b"---\nlicense: apache2\n---\n")],
            commit_message="bad card",
        )
    assert not [r for r in local_hub.requests if "/preupload/" in r.path or "/commit/" in r.path]

    head = api.repo_info(REPO).sha  # a client that skips the check is refused at commit time, as by the Hub
    lines = [
        {"key": "header", "value": {"summary": "bad card"}},
        {
            "key": "file",
            "value": {
                "path": "README.md",
                "encoding": "base64",
                "content": base64.b64encode(b"---\nlicense: apache2\n---\n").decode(),
            },
        },
    ]
    response = httpx.post(
        f"{local_hub.url}/api/models/{REPO}/commit/main",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"},
        content="\n".join(json.dumps(line) for line in lines).encode(),
    )
    assert response.status_code == 400 and "Invalid metadata in README.md" in response.json()["error"]
    assert api.repo_info(REPO).sha == head
    (folder / "README.md").write_text(GOOD)
    api.upload_folder(repo_id=REPO, folder_path=folder)
    assert api.repo_info(REPO).sha != head
    assert list(iter_requests(local_hub, "POST", "/api/validate-yaml"))
