"""What a push uploads: an allow-list of a run's files, their hashes, and the plan against the remote tree.

Staging is an allow-list, not a deny-list, so a file nobody thought of (optimizer state, a checkpoint, a cache, a
`.env`) is never published by accident. Every staged file is hashed once: sha256 (what the Hub keeps for LFS files)
and the git blob id (what it keeps for regular files), so the plan can tell new / changed / unchanged against the
remote tree without downloading anything. A staged file that holds something shaped like a Hub token stops the push.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import HubkitError
from ..record import RECORD_FILENAME, RunRecord
from ..runfolder import CARD_FILENAME, MODEL_DIRNAME, RunFolder
from ..secret_scan import find_secrets_in_bytes

# Files of the merged model folder that a Hub model repo needs (weights, config, tokenizer, card, plots).
ALLOWED_NAMES = frozenset(
    {
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.txt",
        "vocab.json",
        "merges.txt",
        "spiece.model",
        "sentencepiece.bpe.model",
        "tokenizer.model",
        "chat_template.jinja",
        CARD_FILENAME,
    }
)
ALLOWED_PATTERNS = ("*.safetensors", "*.safetensors.index.json", "*.png")
# Matched before the allow-list: adapter files would make transformers try to load the repo as a PEFT adapter.
DENIED_PATTERNS = ("adapter_model.*", "adapter_config.json", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl", ".*")

TEXT_SUFFIXES = frozenset({".json", ".txt", ".md", ".jinja", ".model"})
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class StagedFile:
    path_in_repo: str
    local_path: Path
    size: int
    sha256: str
    git_oid: str  # sha1 of "blob <size>\0" + content: the Hub's blob id for a regular (non-LFS) file


@dataclass(frozen=True)
class Staging:
    files: tuple[StagedFile, ...]
    skipped: tuple[tuple[str, str], ...]  # (relative path, why)
    record: RunRecord

    def by_path(self) -> dict[str, StagedFile]:
        return {f.path_in_repo: f for f in self.files}


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    blob_id: str
    lfs_sha256: str | None


@dataclass(frozen=True)
class PlanEntry:
    path: str
    size: int
    status: str  # "new" | "changed" | "unchanged"
    remote_size: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    entries: tuple[PlanEntry, ...]
    remote_only: tuple[str, ...]  # files on the remote that the run does not have (kept, never deleted)

    @property
    def to_upload(self) -> tuple[PlanEntry, ...]:
        return tuple(e for e in self.entries if e.status != "unchanged")

    @property
    def has_changes(self) -> bool:
        return bool(self.to_upload)

    @property
    def bytes_to_upload(self) -> int:
        return sum(e.size for e in self.to_upload)

    def counts(self) -> dict[str, int]:
        out = {"new": 0, "changed": 0, "unchanged": 0}
        for e in self.entries:
            out[e.status] += 1
        return out


def _allowed(name: str) -> str | None:
    """None when `name` may be pushed, else the reason it is left out."""
    if any(fnmatch.fnmatch(name, p) for p in DENIED_PATTERNS):
        return "never pushed (training state, adapter or hidden file)"
    if name in ALLOWED_NAMES or any(fnmatch.fnmatch(name, p) for p in ALLOWED_PATTERNS):
        return None
    return "not on the allow-list"


def _hash_file(path: Path, size: int, token: bytes | None) -> tuple[str, str]:
    """sha256 and git blob id in one read; refuses a file containing `token`, or (text files) anything shaped like a
    secret (hubkit.secret_scan: Hub tokens of every shape, AWS keys, private keys, .env secret lines)."""
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(b"blob %d\0" % size)
    is_text = path.suffix.lower() in TEXT_SUFFIXES
    tail = b""
    keep = max(len(token) if token else 0, 64)
    lines_before_tail = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha256.update(chunk)
            sha1.update(chunk)
            window = tail + chunk
            if token and token in window:
                raise HubkitError(f"refusing to push {path.name}: it contains something that looks like a Hub token")
            found = find_secrets_in_bytes(window) if is_text else []
            if found:
                line = lines_before_tail + found[0].line
                raise HubkitError(
                    f"refusing to push {path.name}: line {line} holds something that looks like a "
                    f"{found[0].description}"
                )
            lines_before_tail += window.count(b"\n") - window[-keep:].count(b"\n")
            tail = window[-keep:]
    return sha256.hexdigest(), sha1.hexdigest()


def stage_run(run_dir: str | Path | RunFolder, token: str | None = None) -> Staging:
    """Validate a run folder and pick the files to publish: allowed files of `RUN/model/` plus `RUN/record.json`.

    Only the top level of `model/` is considered (sub-folders such as checkpoints are skipped); `adapter/` and
    everything else in the run folder stay local.
    """
    run = RunFolder.of(run_dir)
    model_dir = run.require_model()
    record = run.record

    candidates: list[tuple[str, Path]] = []
    skipped: list[tuple[str, str]] = []
    for path in sorted(model_dir.iterdir()):
        rel = f"{MODEL_DIRNAME}/{path.name}"
        if path.is_symlink() or not path.is_file():
            skipped.append((rel, "folder or link (only the top level of model/ is pushed)"))
            continue
        reason = _allowed(path.name)
        if path.name == RECORD_FILENAME:
            skipped.append((rel, f"the run's own {RECORD_FILENAME} is pushed instead"))
        elif reason:
            skipped.append((rel, reason))
        else:
            candidates.append((path.name, path))
    candidates.append((RECORD_FILENAME, run.record_path))

    names = {name for name, _ in candidates}
    if CARD_FILENAME not in names:
        raise HubkitError(f"{model_dir}: no {CARD_FILENAME} model card; run `hubkit build-card` first")
    if "config.json" not in names:
        raise HubkitError(f"{model_dir}: no config.json")
    if not any(n.endswith(".safetensors") for n in names):
        raise HubkitError(f"{model_dir}: no *.safetensors weights")

    files = tuple(stage_file(name, path, token) for name, path in candidates)
    return Staging(files=files, skipped=tuple(skipped), record=record)


def stage_file(path_in_repo: str, path: Path, token: str | None = None) -> StagedFile:
    """One file ready to commit as `path_in_repo`: size, sha256 and git blob id, after the secret scan."""
    size = path.stat().st_size
    sha256, git_oid = _hash_file(path, size, token.encode() if token else None)
    return StagedFile(path_in_repo, path, size, sha256, git_oid)


def remote_files(tree) -> dict[str, RemoteFile]:
    """Index `HfApi.list_repo_tree(..., recursive=True)` output by path (folders dropped)."""
    out = {}
    for item in tree:
        if not hasattr(item, "blob_id"):
            continue  # RepoFolder
        lfs = getattr(item, "lfs", None)
        out[item.path] = RemoteFile(item.path, item.size, item.blob_id, lfs.sha256 if lfs else None)
    return out


def same_content(local: StagedFile, remote: RemoteFile) -> bool:
    """LFS files compare by sha256, regular files by git blob id: both are what the Hub's tree reports."""
    if remote.lfs_sha256:
        return remote.lfs_sha256 == local.sha256
    return remote.blob_id == local.git_oid


def make_plan(staging: Staging, remote: dict[str, RemoteFile]) -> Plan:
    entries = []
    for f in staging.files:
        r = remote.get(f.path_in_repo)
        if r is None:
            status = "new"
        else:
            status = "unchanged" if same_content(f, r) else "changed"
        entries.append(PlanEntry(f.path_in_repo, f.size, status, r.size if r else None))
    ours = {f.path_in_repo for f in staging.files}
    return Plan(tuple(entries), tuple(sorted(p for p in remote if p not in ours)))
