"""The run folder: where a run's files live, and how a finished run is replaced without ever being lost.

    RUN/record.json      the run record, written last: a folder with a valid record is a finished run
    RUN/model/           merged weights + tokenizer + README.md (the card) + loss.png: what gets published
    RUN/adapter/         the LoRA weights alone
    RUN/loss.png         the loss plot drawn at training time (build-card reuses it)

:class:`RunFolder` is the one place that knows these names; everything else asks it. It loads the record once.

A run is written into a hidden sibling folder (:meth:`RunFolder.build`) and swapped in only when it is complete, so
the previous run at RUN survives a bad config, a data error, Ctrl-C or SIGKILL byte for byte. On Linux the swap is
one atomic `renameat2(RENAME_EXCHANGE)`; elsewhere it is two renames, and a swap cut between them is undone the next
time the folder is opened for writing (:meth:`RunFolder.recover`).

This module stays light (no torch): `hubkit build-card` and `hubkit push` import it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Optional

from .errors import HubkitError
from .record import RECORD_FILENAME, RunRecord

MODEL_DIRNAME = "model"
ADAPTER_DIRNAME = "adapter"
CARD_FILENAME = "README.md"
PLOT_FILENAME = "loss.png"
# What a run writes at its top level; anything else in a folder means it is not (only) a run.
RUN_ENTRIES = frozenset({RECORD_FILENAME, MODEL_DIRNAME, ADAPTER_DIRNAME, PLOT_FILENAME})
_PARTIAL = ".hubkit-partial-"  # a run being written: .<name>.hubkit-partial-<pid>-<random>
_OLD = ".hubkit-old-"  # the previous run during a two-rename swap: .<name>.hubkit-old-<pid>-<random>


class RunFolder:
    """One run folder: its paths, its record (loaded once), and its atomic replacement."""

    def __init__(self, root: str | Path, record: Optional[RunRecord] = None):
        """`record`: the run's record when the caller already holds it (e.g. just trained), so it is not re-read."""
        self.root = Path(root)
        if record is not None:
            self.__dict__["record"] = record

    @classmethod
    def of(cls, run: str | Path | RunFolder) -> RunFolder:
        """`run` itself when it is a RunFolder (its record already read stays read), else a RunFolder for it."""
        return run if isinstance(run, RunFolder) else cls(run)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.root)!r})"

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def record_path(self) -> Path:
        return self.root / RECORD_FILENAME

    @property
    def model_dir(self) -> Path:
        return self.root / MODEL_DIRNAME

    @property
    def adapter_dir(self) -> Path:
        return self.root / ADAPTER_DIRNAME

    @property
    def card_path(self) -> Path:
        """The card as published: RUN/model/README.md."""
        return self.model_dir / CARD_FILENAME

    @property
    def plot_path(self) -> Path:
        """The loss plot drawn at training time: RUN/loss.png (the card's copy sits beside the card)."""
        return self.root / PLOT_FILENAME

    @cached_property
    def record(self) -> RunRecord:
        """The validated record, read once per RunFolder."""
        if not self.root.is_dir():
            raise HubkitError(f"no run folder at {self.root}")
        return RunRecord.load(self.record_path)

    def require_model(self) -> Path:
        """The model folder, or a one-line error saying the run is not finished."""
        if not self.root.is_dir():
            raise HubkitError(f"no run folder at {self.root}")
        if not self.model_dir.is_dir():
            raise HubkitError(f"{self.root}: no {MODEL_DIRNAME}/ folder (the merged model); finish the run first")
        return self.model_dir

    def finished_record(self) -> Optional[RunRecord]:
        """The record when this folder holds a finished run (valid record + merged model), else None."""
        if not self.record_path.is_file() or not (self.model_dir / "config.json").is_file():
            return None
        try:
            return self.record
        except HubkitError:
            return None

    def is_empty(self) -> bool:
        return not self.root.exists() or (self.root.is_dir() and not any(self.root.iterdir()))

    def foreign_entries(self) -> list[str]:
        """Names at the top of the folder that no run writes (a folder holding them is not hubkit's to replace)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.name not in RUN_ENTRIES)

    # --- writing a run ---------------------------------------------------------------------------------------------
    def check_writable(self, *, overwrite: bool) -> None:
        """One-line errors for a destination that cannot take a run; nothing is changed."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise HubkitError(f"--out {root} is a file, not a folder")
        for parent in root.parents:  # the run is written beside RUN, so its folder must take new entries
            if parent.exists() or parent.is_symlink():
                if not parent.is_dir():
                    raise HubkitError(f"--out {root}: {parent} is a file, not a folder")
                if not os.access(parent, os.W_OK | os.X_OK):
                    raise HubkitError(f"--out {root}: cannot write in {parent}")
                break
        self.recover()
        if self.is_empty():
            return
        if not overwrite:
            raise HubkitError(f"--out {root} is not empty; pick a new folder or pass --overwrite")
        others = self.foreign_entries()
        if others:
            raise HubkitError(
                f"--out {root} holds files that are not a run's ({', '.join(others[:3])}); not overwriting"
            )

    @contextlib.contextmanager
    def build(self, *, overwrite: bool) -> Iterator[Path]:
        """Yield a fresh hidden sibling folder to write the run into; on a normal exit, swap it in for RUN.

        Any exception (KeyboardInterrupt included) removes the partial folder and leaves RUN as it was. A process
        killed outright leaves only the hidden partial folder, which the next build in the same place removes.
        """
        self.check_writable(overwrite=overwrite)
        parent = self.root.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self._remove_stale(_PARTIAL)
            partial = Path(tempfile.mkdtemp(prefix=f".{self.name}{_PARTIAL}{os.getpid()}-", dir=parent))
        except OSError as exc:
            raise HubkitError(f"--out {self.root}: cannot create a folder there ({exc.strerror or exc})") from None
        try:
            yield partial
            self.check_writable(overwrite=overwrite)  # nothing else took the place meanwhile
            self._swap_in(partial)
        finally:
            if partial.exists():
                shutil.rmtree(partial, ignore_errors=True)
        self.__dict__.pop("record", None)  # the cached record was the old run's

    def _swap_in(self, partial: Path) -> None:
        root = self.root
        if not root.exists():
            partial.rename(root)
            return
        if _exchange(partial, root):  # partial now holds the old run; removed by the caller
            return
        old = Path(tempfile.mkdtemp(prefix=f".{self.name}{_OLD}{os.getpid()}-", dir=root.parent))
        old.rmdir()
        root.rename(old)  # cut here: recover() renames `old` back
        partial.rename(root)
        shutil.rmtree(old, ignore_errors=True)

    def recover(self) -> None:
        """Undo a two-rename swap that was cut between its renames: the old run goes back to RUN."""
        if self.root.exists():
            self._remove_stale(_OLD)
            return
        olds = self._siblings(_OLD)
        if olds:
            max(olds, key=lambda p: p.stat().st_mtime).rename(self.root)

    def _siblings(self, marker: str) -> list[Path]:
        parent = self.root.parent
        if not parent.is_dir():
            return []
        return [p for p in parent.glob(f".{self.name}{marker}*") if p.is_dir() and not p.is_symlink()]

    def _remove_stale(self, marker: str) -> None:
        """Remove hidden folders this name's runs left behind, unless the process that made them still runs."""
        for path in self._siblings(marker):
            pid = path.name[len(f".{self.name}{marker}") :].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
                continue
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2); False where the system cannot, so the caller falls back."""
    if not hasattr(os, "fork") or not os.uname().sysname == "Linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # a file system or kernel without RENAME_EXCHANGE
    raise OSError(err, os.strerror(err), str(b))
