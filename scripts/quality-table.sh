#!/usr/bin/env bash
# Quality table of the RTN presets on the trained fixtures (docs/quality.md):
# perplexity, mean / 99.9th-percentile KL vs bf16, top-1 agreement and bits
# per weight, on the valid split with `glmq eval`'s default protocol (windows
# of 256 tokens, every token but each window's first scored).
#
#   scripts/quality-table.sh [BUILD_DIR [WORK_DIR]]
#
# env: SHARED (default ../shared), MAX_WINDOWS (default 0 = all 297 windows),
#      HF_SCHEMES (schemes run on glm4-tiny-chat-hf, default all six),
#      ABLATE (presets also run with token_embd kept bf16, on the two other
#      models; default "int8-g32 int4-g128"; empty for none),
#      LOCK (flock file around each eval; default none: the figures are
#      deterministic, independent of load, and no timing is reported).
# The bf16 logits are saved once per model (eval ppl --save-logits, ~1.3 GB
# each for all windows) and every quantized model is scored against them
# (eval kld --ref-logits), so each eval runs one model. Writes WORK_DIR/*.json
# and prints the markdown table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
WORK=${2:-/tmp/glmq-quality}
G="$BUILD/tools/glmq"
SHARED=${SHARED:-../shared}
TEXT="$SHARED/fixtures/text/valid.txt"
MW=${MAX_WINDOWS:-0}
LOCK=${LOCK:-}
SCHEMES=(int8-g32 int8-g128 int4-g32 int4-g128 int4a-g32 int4a-g128)
read -r -a HF_SCHEMES <<<"${HF_SCHEMES:-${SCHEMES[*]}}"
read -r -a ABLATE <<<"${ABLATE-int8-g32 int4-g128}"
mkdir -p "$WORK"

log() { echo "[$(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)] $*" >&2; }
# Evaluations run niced (shared box), under $LOCK if set.
timed() {
  local t0=$SECONDS
  if [[ -n $LOCK ]]; then nice -n 10 flock "$LOCK" "$@"; else nice -n 10 "$@"; fi
  log "  ${*:2:2} took $((SECONDS - t0)) s"
}
bpw() { "$G" inspect "$1" | sed -n 's|^bits/weight: \([0-9.]*\) overall.*|\1|p'; }

# quantize_and_score MODEL PRESET NAME [extra quantize args]
quantize_and_score() {
  local M=$1 S=$2 name=$3 base="$WORK/$1"
  shift 3
  log "$M $name: quantize (rtn), kld vs bf16 logits"
  "$G" quantize "$base-bf16.glmq" -o "$base-$name.glmq" --scheme "$S" --method rtn "$@" \
    2>"$base-$name.quantize.log"
  timed "$G" eval kld --model "$base-$name.glmq" --ref-logits "$base-bf16.logits" \
    --text "$TEXT" --json >"$base-$name.json"
  echo "{\"bpw\": $(bpw "$base-$name.glmq"), \"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" \
    >"$base-$name.info.json"
}

for M in glm4-tiny-chat glm4-tiny-0414 glm4-tiny-chat-hf; do
  base="$WORK/$M"
  schemes=("${SCHEMES[@]}")
  [[ $M == glm4-tiny-chat-hf ]] && schemes=("${HF_SCHEMES[@]}")
  log "$M: convert, bf16 ppl + logits"
  "$G" convert "$SHARED/fixtures/models/$M" -o "$base-bf16.glmq" 2>/dev/null
  timed "$G" eval ppl "$base-bf16.glmq" --text "$TEXT" --max-windows "$MW" \
    --save-logits "$base-bf16.logits" --json >"$base-bf16.json"
  echo "{\"bpw\": $(bpw "$base-bf16.glmq"), \"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" \
    >"$base-bf16.info.json"
  for S in "${schemes[@]}"; do quantize_and_score "$M" "$S" "$S"; done
  # Ablation: the same preset with the embedding kept bf16 (the old recipe).
  if [[ $M != glm4-tiny-chat-hf ]]; then
    for S in "${ABLATE[@]}"; do
      quantize_and_score "$M" "$S" "$S+embd-bf16" --tensor-type '^token_embd\.weight$=bf16'
    done
  fi
done

# glm4-tiny-chat-hf holds the same weights as glm4-tiny-chat: same bf16
# logits, byte for byte, and the same quantized tensors.
HF_SAME_LOGITS=no
cmp -s "$WORK/glm4-tiny-chat-bf16.logits" "$WORK/glm4-tiny-chat-hf-bf16.logits" && HF_SAME_LOGITS=yes
log "chat vs chat-hf bf16 logits identical: $HF_SAME_LOGITS"
for S in "${HF_SCHEMES[@]}"; do
  "$G" inspect --json "$WORK/glm4-tiny-chat-$S.glmq" >"$WORK/chat-$S.meta.json"
  "$G" inspect --json "$WORK/glm4-tiny-chat-hf-$S.glmq" >"$WORK/chat-hf-$S.meta.json"
done
rm -f "$WORK"/*.logits

python3 - "$WORK" "$HF_SAME_LOGITS" "${SCHEMES[*]}" "${HF_SCHEMES[*]}" "${ABLATE[*]}" <<'EOF'
import json, os, sys
work, same_logits = sys.argv[1], sys.argv[2]
schemes, hf_schemes, ablate = sys.argv[3].split(), sys.argv[4].split(), sys.argv[5].split()
def load(p):
    with open(os.path.join(work, p)) as f: return json.load(f)
print("| model | scheme | bits/weight | ppl | Δppl vs bf16 | mean KL | KL p99.9 | top-1 agreement |")
print("|---|---|---|---|---|---|---|---|")
for m in ["glm4-tiny-chat", "glm4-tiny-0414", "glm4-tiny-chat-hf"]:
    ref = load(f"{m}-bf16.json")
    print(f"| {m} | bf16 | {load(f'{m}-bf16.info.json')['bpw']:.3f} | {ref['ppl']:.4f} | — | — | — | — |")
    rows = hf_schemes if m.endswith("-hf") else schemes + [a + "+embd-bf16" for a in ablate]
    for s in rows:
        k, info = load(f"{m}-{s}.json"), load(f"{m}-{s}.info.json")
        assert abs(k["ref_ppl"] - ref["ppl"]) < 1e-9 * ref["ppl"], (m, s, "ref ppl differs")
        d = 100 * (k["model_ppl"] / ref["ppl"] - 1)
        print(f"| {m} | {s} | {info['bpw']:.3f} | {k['model_ppl']:.4f} | {d:+.3f}% | "
              f"{k['mean_kld']:.6f} ± {k['kld_stderr']:.1e} | {k['kld_p99_9']:.5f} | "
              f"{100 * k['top1_agreement']:.2f}% |")
ref = load("glm4-tiny-chat-bf16.json")
print(f"\nwindows {ref['windows']}, scored tokens {ref['scored_tokens']} of {ref['tokens']}, ctx {ref['ctx']}")
print(f"glm4-tiny-chat vs glm4-tiny-chat-hf: bf16 logits byte-identical: {same_logits}")
for s in hf_schemes:
    a, b = load(f"chat-{s}.meta.json"), load(f"chat-hf-{s}.meta.json")
    ha = {t["name"]: t.get("xxh64") for t in a["tensors"]}
    hb = {t["name"]: t.get("xxh64") for t in b["tensors"]}
    ka, kb = load(f"glm4-tiny-chat-{s}.json"), load(f"glm4-tiny-chat-hf-{s}.json")
    same = all(ka[x] == kb[x] for x in ["model_ppl", "mean_kld", "kld_p99_9", "top1_agreement"])
    print(f"{s}: quantized tensors identical: {ha == hb}; all eval numbers identical: {same}")
EOF
