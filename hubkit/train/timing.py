"""Wall time per stage of a run (data, train, eval, ablation, merge, smoke), as the record stores them."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

STAGES = ("data", "train", "eval", "ablation", "merge", "smoke")


class StageTimer:
    """`with timer.stage("train"): ...` adds the block's wall time to that stage; `total` counts from creation."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    @property
    def total(self) -> float:
        return time.perf_counter() - self._start

    def rounded(self) -> dict[str, float]:
        """Every stage in run order (0 for one that did not run), to 0.01 s."""
        return {name: round(self.seconds.get(name, 0.0), 2) for name in STAGES}
