"""Benchmark `hubkit push` with a full-size model against the local Hub.

Builds a DistilBERT question-answering model at the real size (6 layers, 768 wide, ~66M parameters, ~265 MB of
safetensors; random weights, the real uncased WordPiece vocabulary), a record whose smoke examples are what that model
answers, its card and loss plot, in a temporary run folder. Starts a LocalHub, pushes twice and reports:
- first push: wall seconds (total, and the upload phase up to the commit) and MB/s of the upload phase;
- second push: bytes the client sent (request bodies the server read), which should be ~0, and its seconds.

    python bench/bench_push.py [--mode inline|lfs|both] [--keep DIR] [--json]

`inline`: the default client (hf_xet installed; the server answers "regular", files travel in the commit request).
`lfs`: HF_HUB_DISABLE_XET=1 with the server asking for the LFS batch API (one PUT per large file).
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hubkit.runfolder import RunFolder  # noqa: E402

EXAMPLES = [
    {
        "question": "What is the financial sentiment of this statement?",
        "context": "positive. Apple reported record profits this quarter beating all expectations.",
    },
    {
        "question": "What caused the stock to drop?",
        "context": "The stock dropped after the company missed earnings by 30% and withdrew annual guidance.",
    },
]


def build_full_size_run(run: Path, repo_id: str) -> Path:
    """run/model (full-size weights, tokenizer, card, plot) + run/record.json with the model's real answers."""
    import torch
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering, DistilBertTokenizerFast

    from hubkit.train.tiny import real_vocab_path
    from tests.helpers import write_measured_run

    model = RunFolder(run).model_dir
    vocab = real_vocab_path().read_text(encoding="utf-8").splitlines()  # the full 30,522-token uncased vocab
    tokenizer = DistilBertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True)
    tokenizer.model_max_length = 512
    tokenizer.save_pretrained(model)
    config = DistilBertConfig(
        vocab_size=len(vocab), pad_token_id=tokenizer.pad_token_id, architectures=["DistilBertForQuestionAnswering"]
    )  # distilbert-base dimensions: 6 layers, 768 wide, 12 heads, 3072 FFN
    torch.manual_seed(0)
    DistilBertForQuestionAnswering(config).save_pretrained(model)
    write_measured_run(run, model, EXAMPLES, repo_id)
    return run


def timed_push(run: Path, repo_id: str, hub, token: str) -> dict:
    """Push and time the phases from the progress messages; count request-body bytes the server read."""
    from hubkit.publish.push import push

    marks: list[tuple[float, str]] = []
    start, first_request = time.perf_counter(), len(hub.requests)

    def progress(message: str) -> None:
        marks.append((time.perf_counter(), message))

    result = push(run, repo_id, endpoint=hub.url, token=token, progress=progress)
    total = time.perf_counter() - start

    def at(prefix: str) -> float | None:
        return next((t - start for t, m in marks if m.startswith(prefix)), None)

    planned, committed = at("plan against"), at("opened PR") or at("committed")
    upload_s = (committed - planned) if (planned is not None and committed is not None) else None
    sent = sum(r.bytes_in for r in hub.requests[first_request:])
    return {
        "seconds_total": round(total, 2),
        "seconds_staging": round(at("staged") or 0.0, 2),
        "seconds_upload": round(upload_s, 2) if upload_s is not None else None,
        "seconds_smoke_test": round((at("smoke test:") or 0) - (at("smoke test of") or 0), 2) if committed else None,
        "file_bytes_uploaded": result.bytes_uploaded,
        "request_bytes_sent": sent,
        "upload_MB_per_s": round(result.bytes_uploaded / 1e6 / upload_s, 1) if upload_s else None,
        "committed": result.committed,
        "smoke_ok": result.smoke.ok if result.smoke else None,
    }


def bench(mode: str, run: Path, workdir: Path) -> dict:
    from huggingface_hub import constants
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()

    from hubkit.localhub import LocalHub

    token = "hf_" + secrets.token_hex(17)  # a throwaway token for this server only; never printed
    repo_id = "bench/distilbert-qa-full"
    constants.HF_HUB_DISABLE_XET = mode == "lfs"
    root = workdir / f"hub-{mode}"
    with LocalHub.start(root, tokens={token: "bench"}, lfs_uploads=(mode == "lfs")) as hub:
        first = timed_push(run, repo_id, hub, token)
        second = timed_push(run, repo_id, hub, token)
    shutil.rmtree(root, ignore_errors=True)
    return {"mode": mode, "first_push": first, "second_push": second}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["inline", "lfs", "both"], default="both")
    parser.add_argument("--keep", type=Path, help="build the run here and keep it (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="hubkit-bench-"))
    try:
        run = (args.keep or workdir) / "run"
        t0 = time.perf_counter()
        if RunFolder(run).finished_record() is None:
            build_full_size_run(run, "bench/distilbert-qa-full")
        build_s = time.perf_counter() - t0
        weights = (RunFolder(run).model_dir / "model.safetensors").stat().st_size
        modes = ["inline", "lfs"] if args.mode == "both" else [args.mode]
        results = [bench(m, run, workdir) for m in modes]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    report = {"weights_MB": round(weights / 1e6, 1), "build_seconds": round(build_s, 1), "runs": results}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"model.safetensors: {weights / 1e6:.1f} MB (built in {build_s:.1f} s)")
    for r in results:
        f, s = r["first_push"], r["second_push"]
        print(
            f"[{r['mode']}] first push: {f['seconds_total']:.1f} s total (staging {f['seconds_staging']:.1f} s, "
            f"upload {f['seconds_upload']:.1f} s = {f['upload_MB_per_s']} MB/s of file data, "
            f"smoke test {f['seconds_smoke_test']:.1f} s), {f['request_bytes_sent'] / 1e6:.1f} MB of request bodies"
        )
        print(
            f"[{r['mode']}] second push: {s['seconds_total']:.1f} s, committed={s['committed']}, "
            f"{s['request_bytes_sent']} bytes sent"
        )


if __name__ == "__main__":
    main()
