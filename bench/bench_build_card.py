"""How fast is `hubkit build-card`, next to merely importing `transformers.pipelines`?

build-card never imports torch/transformers/peft, because people run it often; this shows what that buys.
It times, as subprocesses, interleaved so machine load affects all three alike:
  - `hubkit build-card` cold: no loss plot yet (matplotlib is imported and draws),
  - `hubkit build-card` warm: the plot beside the card was already drawn from the same numbers (the usual rebuild),
  - `python -c "import transformers.pipelines"`,
and prints the medians and the ratios. Target: build-card at least 10x faster.

    python bench/bench_build_card.py [--repeat 5] [--record tests/fixtures/reference_record.json]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' helpers build the run folder

from tests.helpers import REFERENCE_RECORD, build_run  # noqa: E402

TARGET = 10.0


def hubkit_command() -> list[str]:
    script = Path(sys.executable).with_name("hubkit")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "hubkit.cli"]


def make_run(folder: Path, record: Path) -> Path:
    """A run directory as training leaves it: record.json + model/ (config + a small safetensors file)."""
    return build_run(folder, record)


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--record", type=Path, default=REFERENCE_RECORD)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp), args.record)
        build = hubkit_command() + ["build-card", "--run", str(run)]
        plot = run / "model" / "loss.png"
        transformers = [sys.executable, "-c", "import transformers.pipelines"]
        timed(build)  # warm the OS file cache and .pyc files for both sides
        timed(transformers)
        times: dict[str, list[float]] = {"cold": [], "warm": [], "transformers": []}
        for _ in range(args.repeat):
            plot.unlink(missing_ok=True)
            times["cold"].append(timed(build))
            times["warm"].append(timed(build))
            times["transformers"].append(timed(transformers))

    median = {name: statistics.median(values) for name, values in times.items()}
    base = median["transformers"]
    print(f"{'command':58s} {'median s':>9s} {'speed-up':>9s}")
    label = 'python -c "import transformers.pipelines"'
    print(f"{label:58s} {base:9.3f} {'1.0x':>9s}")
    for name, label in (
        ("warm", "hubkit build-card (plot up to date: the usual rebuild)"),
        ("cold", "hubkit build-card (no plot yet: draws with matplotlib)"),
    ):
        print(f"{label:58s} {median[name]:9.3f} {base / median[name]:8.1f}x")
    print(f"({args.repeat} runs each, interleaved; python {sys.version.split()[0]})")
    for name in ("warm", "cold"):
        verdict = "met" if base / median[name] >= TARGET else "NOT met"
        print(f"target >= {TARGET:g}x, {name}: {verdict}")


if __name__ == "__main__":
    main()
