#!/usr/bin/env bash
# Calibration table of docs/calibration-results.md: on the trained fixtures,
# calibrate on train.txt, quantize with rtn, imatrix, awq, gptq and
# awq+gptq (glm4-tiny-chat, glm4-tiny-0414: int4-g128 / int4-g32;
# glm4-tiny-chat-outlier: every preset, plus imatrix and gptq with
# --no-equalize), and score each against the bf16 logits on valid.txt
# (perplexity, mean KL ± standard error, Δ KL vs rtn, top-1 agreement, bits
# per weight, quantize seconds).
#
#   scripts/calib-table.sh [BUILD_DIR [WORK_DIR]]
#
# env: SHARED (default ../shared), WINDOWS (calibration windows of 256
#      tokens, default 256 = 65,536 tokens, calibrate's default), MAX_WINDOWS (valid windows
#      scored, default 100), MODELS (default "glm4-tiny-chat glm4-tiny-0414
#      glm4-tiny-chat-outlier";
#      glm4-tiny-chat-hf holds glm4-tiny-chat's weights, so its rows would
#      repeat them: the script checks that its quantized tensors are the
#      same bytes instead), SCHEMES / METHODS (the gentle fixtures'),
#      OUTLIER_SCHEMES / OUTLIER_METHODS (glm4-tiny-chat-outlier's; a method
#      "M/no-equalize" runs --method M --no-equalize), LOCK (flock file around
#      each step; default none).
# Writes WORK_DIR/*.json and prints the markdown table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
WORK=${2:-/tmp/glmq-calib-table}
G="$BUILD/tools/glmq"
SHARED=${SHARED:-../shared}
T="$SHARED/fixtures/text"
WINDOWS=${WINDOWS:-256}
MW=${MAX_WINDOWS:-100}
LOCK=${LOCK:-}
read -r -a MODELS <<<"${MODELS:-glm4-tiny-chat glm4-tiny-0414 glm4-tiny-chat-outlier}"
SCHEMES=${SCHEMES:-int4-g128 int4-g32}
METHODS=${METHODS:-rtn imatrix awq gptq awq+gptq}
OUTLIER_SCHEMES=${OUTLIER_SCHEMES:-int8 int8-g128 int4-g128 int4-g32 int4a-g128 int4a-g32 int4-mix}
OUTLIER_METHODS=${OUTLIER_METHODS:-rtn imatrix imatrix/no-equalize awq gptq gptq/no-equalize awq+gptq}
mkdir -p "$WORK"

log() { echo "[$(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)] $*" >&2; }
run() { if [[ -n $LOCK ]]; then nice -n 10 flock "$LOCK" "$@"; else nice -n 10 "$@"; fi; }
bpw() { "$G" inspect "$1" | sed -n 's|^bits/weight: \([0-9.]*\) overall.*|\1|p'; }

# Method token -> file-name part: "gptq/no-equalize" -> "gptq-noeq".
tag() { local t=${1/\/no-equalize/-noeq}; echo "${t//+/_}"; }
schemes_of() { if [[ $1 == *-outlier ]]; then echo "$OUTLIER_SCHEMES"; else echo "$SCHEMES"; fi; }
methods_of() { if [[ $1 == *-outlier ]]; then echo "$OUTLIER_METHODS"; else echo "$METHODS"; fi; }

for M in "${MODELS[@]}"; do
  base="$WORK/$M"
  log "$M: convert, calibrate ($WINDOWS windows), bf16 ppl + logits"
  "$G" convert "$SHARED/fixtures/models/$M" -o "$base-bf16.glmq" 2>/dev/null
  run "$G" calibrate "$base-bf16.glmq" --text "$T/train.txt" --windows "$WINDOWS" \
    -o "$base.stats" 2>"$base.calibrate.log"
  run "$G" eval ppl "$base-bf16.glmq" --text "$T/valid.txt" --max-windows "$MW" \
    --save-logits "$base.logits" --json >"$base-bf16.json"
  for S in $(schemes_of "$M"); do
    for TOKEN in $(methods_of "$M"); do
      METHOD=${TOKEN%/*}
      name="$base-$S-$(tag "$TOKEN")"
      calib=()
      [[ $METHOD != rtn ]] && calib=(--calib "$base.stats")
      [[ $TOKEN == */no-equalize ]] && calib+=(--no-equalize)
      t0=$(date +%s%N)
      run "$G" quantize "$base-bf16.glmq" -o "$name.glmq" --scheme "$S" --method "$METHOD" \
        "${calib[@]}" 2>"$name.quantize.log"
      ms=$((($(date +%s%N) - t0) / 1000000))
      secs=$((ms / 1000)).$(printf %03d $((ms % 1000)))
      run "$G" eval kld --model "$name.glmq" --ref-logits "$base.logits" --text "$T/valid.txt" \
        --max-windows "$MW" --json >"$name.json"
      echo "{\"bpw\": $(bpw "$name.glmq"), \"secs\": $secs, \"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" \
        >"$name.info.json"
      log "$M $S $TOKEN: quantize ${secs} s"
    done
  done
  rm -f "$base.logits"
done

# glm4-tiny-chat-hf: the same weights (same fingerprint) -> with
# glm4-tiny-chat's statistics its calibrated tensors must be the same bytes.
HF_SAME=skipped
if [[ " ${MODELS[*]} " == *" glm4-tiny-chat "* ]]; then
  hf="$WORK/glm4-tiny-chat-hf"
  "$G" convert "$SHARED/fixtures/models/glm4-tiny-chat-hf" -o "$hf-bf16.glmq" 2>/dev/null
  HF_SAME=yes
  for METHOD in awq gptq; do
    run "$G" quantize "$hf-bf16.glmq" -o "$hf-int4-g128-$METHOD.glmq" --scheme int4-g128 \
      --method "$METHOD" --calib "$WORK/glm4-tiny-chat.stats" 2>/dev/null
    a=$("$G" inspect --json "$WORK/glm4-tiny-chat-int4-g128-$METHOD.glmq" |
      python3 -c 'import json,sys; print(sorted((t["name"], t.get("xxh64")) for t in json.load(sys.stdin)["tensors"]))')
    b=$("$G" inspect --json "$hf-int4-g128-$METHOD.glmq" |
      python3 -c 'import json,sys; print(sorted((t["name"], t.get("xxh64")) for t in json.load(sys.stdin)["tensors"]))')
    [[ $a == "$b" ]] || HF_SAME=no
  done
fi

python3 - "$WORK" "$HF_SAME" "${MODELS[*]}" "$SCHEMES" "$METHODS" "$OUTLIER_SCHEMES" \
  "$OUTLIER_METHODS" <<'EOF'
import json, os, sys
work, hf_same = sys.argv[1], sys.argv[2]
models, schemes, methods, o_schemes, o_methods = (a.split() for a in sys.argv[3:8])
def load(p):
    with open(os.path.join(work, p)) as f: return json.load(f)
def tag(t): return t.replace("/no-equalize", "-noeq").replace("+", "_")
print("| model | scheme | method | bits/weight | ppl | mean KL ± s.e. | Δ KL vs rtn | top-1 agreement | quantize s |")
print("|---|---|---|---|---|---|---|---|---|")
for m in models:
    ref = load(f"{m}-bf16.json")
    outlier = m.endswith("-outlier")
    for s in (o_schemes if outlier else schemes):
        rtn = load(f"{m}-{s}-rtn.json")["mean_kld"]
        for meth in (o_methods if outlier else methods):
            k, info = load(f"{m}-{s}-{tag(meth)}.json"), load(f"{m}-{s}-{tag(meth)}.info.json")
            assert abs(k["ref_ppl"] - ref["ppl"]) < 1e-9 * ref["ppl"], (m, s, meth, "ref ppl differs")
            d = "—" if meth == "rtn" else f"{100 * (k['mean_kld'] / rtn - 1):+.1f}%"
            print(f"| {m} | {s} | {meth} | {info['bpw']:.3f} | {k['model_ppl']:.3f} | "
                  f"{k['mean_kld']:.6f} ± {k['kld_stderr']:.6f} | {d} | "
                  f"{100 * k['top1_agreement']:.2f}% | {info['secs']:.2f} |")
ref = load(f"{models[0]}-bf16.json")
print(f"\nvalid windows {ref['windows']}, scored tokens {ref['scored_tokens']}, ctx {ref['ctx']}; "
      + ", ".join(f"{m} bf16 ppl {load(f'{m}-bf16.json')['ppl']:.3f}" for m in models))
print(f"glm4-tiny-chat-hf int4-g128 awq/gptq tensors identical to glm4-tiny-chat's: {hf_same}")
EOF
