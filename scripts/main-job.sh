#!/usr/bin/env bash
# The main job on the bundled tiny GLM-4 model (testdata/models/glm4-tiny-chat):
#   convert (lossless bf16) -> verify -> quantize int4-g128 -> parity report
#   (perplexity of both, KL divergence, top-1 agreement) -> short chat
#   generation -> VRAM table (the file's own, then glm-4-9b-chat at 24 GiB).
# Usage: scripts/main-job.sh [glmq binary] [output folder]
#   Env: MODEL=<HF folder> (default: the bundled model), TEXT=<UTF-8 file>
#   (default: ../shared/fixtures/text/valid.txt, or this repo's specs/ when
#   ../shared is absent), WINDOWS=<256-token windows to score> (default 64),
#   SCHEME=<quantize preset> (default int4-g128).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GLMQ=${1:-$ROOT/build/tools/glmq}
OUT=${2:-$ROOT/build/main-job}
MODEL=${MODEL:-$ROOT/testdata/models/glm4-tiny-chat}
SHARED=$ROOT/../shared
SCHEME=${SCHEME:-int4-g128}
WINDOWS=${WINDOWS:-64}
[[ -x "$GLMQ" ]] || { echo "main-job: no glmq binary at $GLMQ (build first)" >&2; exit 1; }
mkdir -p "$OUT"
if [[ -z "${TEXT:-}" ]]; then
  if [[ -f "$SHARED/fixtures/text/valid.txt" ]]; then
    TEXT=$SHARED/fixtures/text/valid.txt
  else  # our own prose: a fair text for bf16-vs-quantized parity, not for absolute ppl
    TEXT=$OUT/specs.txt
    cat "$ROOT"/specs/*.md > "$TEXT"
  fi
fi
name=$(basename "$MODEL")
BF16=$OUT/$name-bf16.glmq
QUANT=$OUT/$name-$SCHEME.glmq
step() { printf '\n== %s\n' "$*"; }

step "convert $MODEL -> $BF16"
"$GLMQ" convert "$MODEL" -o "$BF16"
"$GLMQ" verify "$BF16"

step "quantize $SCHEME -> $QUANT"
"$GLMQ" quantize "$BF16" -o "$QUANT" --scheme "$SCHEME"
"$GLMQ" inspect "$QUANT"

step "parity report on $TEXT ($WINDOWS windows of 256 tokens)"
echo "-- bf16 perplexity"
"$GLMQ" eval ppl "$BF16" --text "$TEXT" --max-windows "$WINDOWS"
echo "-- $SCHEME against bf16 (both models in one pass)"
"$GLMQ" eval kld --model "$QUANT" --ref "$BF16" --text "$TEXT" --max-windows "$WINDOWS"

step "chat generation ($SCHEME, greedy)"
"$GLMQ" generate "$QUANT" --chat --prompt "What is the capital of France?" -n 32

step "VRAM plan of $QUANT"
"$GLMQ" plan "$QUANT"
if [[ -f "$SHARED/reference/configs/glm-4-9b-chat.json" ]]; then
  step "VRAM plan of the real glm-4-9b-chat (config from ../shared/reference)"
  "$GLMQ" plan "$SHARED/reference/configs/glm-4-9b-chat.json"
  "$GLMQ" plan "$SHARED/reference/configs/glm-4-9b-chat.json" --gpu 24G
fi
printf '\nmain job done: %s\n' "$OUT"
