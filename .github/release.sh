#!/usr/bin/env bash
# The release step the tag workflow runs (and the tests run against the local Hub):
#   HUBKIT_CONFIG  experiment config          HF_REPO  Hub repo id (user/name)
#   RELEASE_TAG    tag for the Hub commit     RUN_DIR  where the run lives (resumable)
# Authentication comes from HF_TOKEN or Hub trusted publishing (HF_OIDC_RESOURCE); hubkit never prints it.
set -euo pipefail
: "${HUBKIT_CONFIG:?set HUBKIT_CONFIG to the experiment config}"
: "${HF_REPO:?set HF_REPO to the Hub repo id (user/name)}"
RUN_DIR="${RUN_DIR:-runs/release}"
args=(release --config "$HUBKIT_CONFIG" --repo "$HF_REPO" --out "$RUN_DIR")
if [ -n "${RELEASE_TAG:-}" ]; then
  args+=(--tag "$RELEASE_TAG")
fi
exec hubkit "${args[@]}"
