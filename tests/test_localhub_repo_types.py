"""Dataset and Space repos on the local Hub, through the real clients: huggingface_hub and `datasets.load_dataset`.

The reference config (`pipeline/finance_qa.yaml`) reads takala/financial_phrasebank (config `sentences_allagree`,
split `train`) and explodinggradients/fiqa (config `main`, split `test`) from the Hub: small parquet copies published
under those ids, laid out as the Hub copies are, must go through hubkit's own data prep via HF_ENDPOINT.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, hf_hub_download, snapshot_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from hubkit.localhub import LocalHub

from .localhub_helpers import TOKEN, USER, hub_api, subprocess_env

ROOT = Path(__file__).resolve().parent.parent
PHRASEBANK = "takala/financial_phrasebank"
FIQA = "explodinggradients/fiqa"
SENTENCES = [
    ("Profit rose 12 percent.", 2),
    ("Sales were flat.", 1),
    ("The company cut its outlook.", 0),
    ("Orders grew strongly in the quarter.", 2),
    ("The board meets on Tuesday.", 1),
    ("Losses widened after the recall.", 0),
    ("Margins improved on lower costs.", 2),
    ("The office moved to Espoo.", 1),
    ("The bank wrote down its loans.", 0),
    ("The shares were listed in 2001.", 1),
    ("Net sales doubled year on year.", 2),
    ("The plant will close next year.", 0),
    ("The report is published in English.", 1),
    ("Cash flow turned positive.", 2),
    ("Demand fell sharply in Europe.", 0),
]  # 15 rows: a 20% stratified eval split needs one row of each of the 3 labels
QUESTIONS = [
    ("What is an ETF?", ["An ETF is an exchange-traded fund. It trades like a stock."]),
    ("Why diversify a portfolio?", ["Diversify to lower risk. One holding can fail.", "Safety."]),
]

# the Hub copies' own cards: a config per folder, and (the PhraseBank) the label names of its integer column
PHRASEBANK_README = """---
license: cc-by-nc-sa-3.0
configs:
- config_name: sentences_allagree
  data_files:
  - split: train
    path: sentences_allagree/train-*.parquet
dataset_info:
- config_name: sentences_allagree
  features:
  - name: sentence
    dtype: string
  - name: label
    dtype:
      class_label:
        names:
          '0': negative
          '1': neutral
          '2': positive
---
# financial_phrasebank (a small local copy)
"""
FIQA_README = """---
license: cc-by-sa-4.0
configs:
- config_name: main
  data_files:
  - split: test
    path: main/test-*.parquet
---
# fiqa (a small local copy)
"""


def _parquet(columns: dict) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def _publish_dataset(hub: LocalHub, token: str, repo_id: str, files: dict[str, bytes]) -> None:
    api = hub_api(hub, token)
    api.create_repo(repo_id, repo_type="dataset")
    operations = [CommitOperationAdd(path, content) for path, content in files.items()]
    api.create_commit(repo_id, repo_type="dataset", commit_message="data", operations=operations)


def _publish_datasets(hub: LocalHub) -> None:
    """Each dataset under its Hub id, each namespace with its own token (a user may write only its own)."""
    hub._tokens.update({"tok-takala": "takala", "tok-eg": "explodinggradients"})
    sentences = {"sentence": [s for s, _ in SENTENCES], "label": [lbl for _, lbl in SENTENCES]}
    _publish_dataset(
        hub,
        "tok-takala",
        PHRASEBANK,
        {
            "README.md": PHRASEBANK_README.encode(),
            "sentences_allagree/train-00000-of-00001.parquet": _parquet(sentences),
        },
    )
    questions = {"question": [q for q, _ in QUESTIONS], "ground_truths": [a for _, a in QUESTIONS]}
    _publish_dataset(
        hub,
        "tok-eg",
        FIQA,
        {"README.md": FIQA_README.encode(), "main/test-00000-of-00001.parquet": _parquet(questions)},
    )


# hubkit's data prep on the reference config's dataset entries, FiQA pinned to a revision
_PREPARE = """
import json, sys
from hubkit.train.config import load_config
from hubkit.train.data import prepare_data
config = load_config(sys.argv[1])
specs = [spec.model_copy(update={"revision": sys.argv[2]}) if spec.kind == "fiqa" else spec for spec in config.datasets]
data = prepare_data(specs, seed=config.split.seed, eval_fraction=config.split.eval_fraction)
rows = data.train.to_list() + data.eval.to_list()
print(json.dumps({"infos": [[i.name, i.hub_config, i.hub_split, i.revision, i.rows_read] for i in data.infos],
                  "answers": sorted(r["answers"]["text"][0] for r in rows)}))
"""


def test_reference_config_reads_its_datasets_through_the_local_hub(local_hub: LocalHub, tmp_path: Path):
    _publish_datasets(local_hub)
    pinned = hub_api(local_hub, None).dataset_info(FIQA).sha
    hub_api(local_hub, "tok-eg").create_commit(  # a later commit the pinned read must not see
        FIQA,
        repo_type="dataset",
        commit_message="later",
        operations=[
            CommitOperationAdd("main/test-00000-of-00001.parquet", _parquet({"question": ["?"], "ground_truths": [[]]}))
        ],
    )
    env = subprocess_env(local_hub, tmp_path / "home", token=None)
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-c", _PREPARE, str(ROOT / "pipeline" / "finance_qa.yaml"), pinned],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    prepared = json.loads(result.stdout.strip().splitlines()[-1])
    assert prepared["infos"] == [
        [PHRASEBANK, "sentences_allagree", "train", None, len(SENTENCES)],
        [FIQA, "main", "test", pinned, len(QUESTIONS)],
    ]
    labels = ["negative", "neutral", "positive"]
    expected = sorted(
        [labels[lbl] for _, lbl in SENTENCES] + ["An ETF is an exchange-traded fund.", "Diversify to lower risk."]
    )
    assert prepared["answers"] == expected  # the label names came from the card; FiQA's first passage was used
    assert any(r.path.startswith(f"/api/datasets/{PHRASEBANK}") for r in local_hub.requests)
    assert any(r.path.startswith(f"/api/datasets/{FIQA}") for r in local_hub.requests)


def test_dataset_repo_info_downloads_and_separate_namespace(local_hub: LocalHub, tmp_path: Path):
    _publish_datasets(local_hub)
    api = hub_api(local_hub, None)
    info = api.dataset_info(FIQA)
    assert info.id == FIQA and info.card_data["license"] == "cc-by-sa-4.0"
    assert "license:cc-by-sa-4.0" in info.tags
    assert {s.rfilename for s in info.siblings} == {".gitattributes", "README.md", "main/test-00000-of-00001.parquet"}
    assert api.repo_info(FIQA, repo_type="dataset", revision=info.sha).sha == info.sha
    with pytest.raises(RepositoryNotFoundError):  # a dataset is not a model of the same id
        api.model_info(FIQA)
    path = hf_hub_download(FIQA, "README.md", repo_type="dataset", endpoint=local_hub.url, cache_dir=tmp_path / "c")
    assert Path(path).read_text() == FIQA_README
    folder = snapshot_download(PHRASEBANK, repo_type="dataset", endpoint=local_hub.url, cache_dir=tmp_path / "s")
    assert (Path(folder) / "sentences_allagree" / "train-00000-of-00001.parquet").stat().st_size > 0
    resolve = httpx.head(f"{local_hub.url}/datasets/{FIQA}/resolve/main/main/test-00000-of-00001.parquet")
    assert resolve.status_code == 302 and resolve.headers["X-Repo-Commit"] == info.sha  # parquet is LFS

    # the same id may hold a model too, as on the Hub
    hub_api(local_hub, "tok-eg").create_repo(FIQA)
    assert hub_api(local_hub).model_info(FIQA).sha != info.sha


def test_space_repo_create_commit_download_and_id_taken_by_a_model(local_hub: LocalHub, tmp_path: Path):
    api = hub_api(local_hub)
    space = f"{USER}/demo"
    url = api.create_repo(space, repo_type="space", space_sdk="gradio")
    assert url.repo_type == "space" and url.repo_id == space
    api.create_commit(
        space,
        repo_type="space",
        commit_message="app",
        operations=[
            CommitOperationAdd("app.py", b"import gradio as gr\n"),
            CommitOperationAdd(
                "README.md", b"---\nsdk: gradio\napp_file: app.py\nmodels:\n- alice/model\n---\n# demo\n"
            ),
        ],
    )
    info = api.space_info(space)
    assert info.sdk == "gradio" and info.card_data["models"] == ["alice/model"]
    assert info.runtime.stage == api.get_space_runtime(space).stage == "STOPPED"  # built by nobody: runs locally
    assert {s.rfilename for s in info.siblings} == {".gitattributes", "README.md", "app.py"}
    path = hf_hub_download(space, "app.py", repo_type="space", endpoint=local_hub.url, cache_dir=tmp_path / "c")
    assert Path(path).read_bytes() == b"import gradio as gr\n"
    assert httpx.get(f"{local_hub.url}/spaces/{space}/resolve/main/app.py").content == b"import gradio as gr\n"
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_repo(space, repo_type="space", space_sdk="gradio")
    assert excinfo.value.response.status_code == 409

    model = f"{USER}/taken"
    api.create_repo(model)
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_repo(model, repo_type="space", space_sdk="gradio")
    assert excinfo.value.response.status_code == 409 and "model repo" in excinfo.value.response.json()["error"]
    with pytest.raises(RepositoryNotFoundError):
        api.space_info(model)
    bad = httpx.post(
        f"{local_hub.url}/api/repos/create",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"name": "nosdk", "type": "space"},
    )
    assert bad.status_code == 400 and "SDK" in bad.json()["error"]


_PIPELINE = """
import sys
from transformers import pipeline
qa = pipeline(model=sys.argv[1])
print(qa.task)
"""


def test_model_info_derives_pipeline_tag_library_card_data_and_tags(local_hub: LocalHub, tmp_path: Path):
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering, DistilBertTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz"]
    folder = tmp_path / "model"
    DistilBertForQuestionAnswering(
        DistilBertConfig(
            vocab_size=len(words),
            dim=16,
            n_layers=1,
            n_heads=2,
            hidden_dim=32,
            max_position_embeddings=32,
        )
    ).save_pretrained(folder)
    DistilBertTokenizerFast(vocab={w: i for i, w in enumerate(words)}).save_pretrained(folder)
    repo = f"{USER}/qa"
    api = hub_api(local_hub)
    api.create_repo(repo)
    card = b"---\nlicense: apache-2.0\nbase_model: distilbert/distilbert-base-uncased\ntags:\n- finance\n---\n# qa\n"
    api.create_commit(
        repo,
        commit_message="model",
        operations=[*(CommitOperationAdd(p.name, p) for p in folder.iterdir()), CommitOperationAdd("README.md", card)],
    )
    info = api.model_info(repo)
    assert info.pipeline_tag == "question-answering" and info.library_name == "transformers"  # from config.json
    assert info.card_data["license"] == "apache-2.0"
    assert {
        "transformers",
        "safetensors",
        "distilbert",
        "question-answering",
        "finance",
        "license:apache-2.0",
        "base_model:distilbert/distilbert-base-uncased",
    } <= set(info.tags)
    api.create_commit(
        repo,
        commit_message="card says text-classification",
        operations=[
            CommitOperationAdd("README.md", b"---\npipeline_tag: text-classification\nlibrary_name: peft\n---\n")
        ],
    )
    info = api.model_info(repo)
    assert info.pipeline_tag == "text-classification" and info.library_name == "peft"  # the card wins
    api.create_commit(repo, commit_message="card back", operations=[CommitOperationAdd("README.md", card)])

    result = subprocess.run(
        [sys.executable, "-c", _PIPELINE, repo],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(local_hub, tmp_path / "home"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "question-answering"
