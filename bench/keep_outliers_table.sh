#!/usr/bin/env bash
# Does `glmq quantize --keep-outliers N` (N input columns per linear kept at
# f16, real files run by the runtime) pay against spending the same bits on
# smaller groups? The table of docs/calibration-results.md ("Keeping outlier
# columns at f16"), with the protocol of scripts/calib-table.sh: statistics
# from 256 train.txt windows, mean KL vs bf16 over MAX_WINDOWS held-out
# valid.txt windows of 256 tokens.
#
#   bench/keep_outliers_table.sh [BUILD_DIR [WORK_DIR]]
#
# env: SHARED (default ../shared), MODELS (default glm4-tiny-chat-outlier),
#      METHODS (default "rtn gptq"), KEEP (default "4 8"), WINDOWS (256),
#      MAX_WINDOWS (100).
# Rows per model and method: int4-g128 with block groups 128 / 64 / 32 and
# no kept columns, then group 128 with each N of KEEP, then block groups 32
# with the first N. Prints a markdown table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
WORK=${2:-/tmp/glmq-keep-outliers}
G="$BUILD/tools/glmq"
SHARED=${SHARED:-../shared}
T="$SHARED/fixtures/text"
read -r -a MODELS <<<"${MODELS:-glm4-tiny-chat-outlier}"
read -r -a METHODS <<<"${METHODS:-rtn gptq}"
read -r -a KEEP <<<"${KEEP:-4 8}"
MW=${MAX_WINDOWS:-100}
mkdir -p "$WORK"

# One row: model method group N (group 128: the int4-g128 preset; 64 / 32:
# its block linears at that group, the output projection stays g128).
row() {
  local m=$1 meth=$2 g=$3 n=$4 out="$WORK/$1-$2-g$3-k$4"
  local args=(quantize "$WORK/$m-bf16.glmq" -o "$out.glmq" --scheme int4-g128 --method "$meth")
  [[ $g != 128 ]] && args+=(--tensor-type "^blk\\.=q4:$g")
  [[ $meth != rtn || $n != 0 ]] && args+=(--calib "$WORK/$m.stats")
  [[ $n != 0 ]] && args+=(--keep-outliers "$n")
  "$G" "${args[@]}" 2>/dev/null
  "$G" inspect "$out.glmq" >"$out.inspect"
  "$G" eval kld --model "$out.glmq" --ref-logits "$WORK/$m.logits" --text "$T/valid.txt" \
    --max-windows "$MW" --json >"$out.json" 2>/dev/null
  rm -f "$out.glmq"
  python3 - "$out" "$m" "$meth" "$g" "$n" <<'EOF'
import json, re, sys
out, m, meth, g, n = sys.argv[1:]
ins = open(out + ".inspect").read()
bpw = float(re.search(r"^bits/weight: ([0-9.]+) overall", ins, re.M).group(1))
kept = re.search(r"kept input columns per linear at f16: ([0-9.]+)", ins)
k = json.load(open(out + ".json"))
print(f"| {m} | {meth} | {g} | {n} | {bpw:.3f} ({float(kept.group(1)) if kept else 0:.3f}) | "
      f"{k['mean_kld']:.6f} ± {k['kld_stderr']:.6f} | {k['model_ppl']:.3f} | "
      f"{100 * k['top1_agreement']:.2f}% |")
EOF
}

echo "| model | method | block groups | kept columns | bits/weight (of which kept) | mean KL ± s.e. | ppl | top-1 agreement |"
echo "|---|---|---|---|---|---|---|---|"
for m in "${MODELS[@]}"; do
  "$G" convert "$SHARED/fixtures/models/$m" -o "$WORK/$m-bf16.glmq" 2>/dev/null
  "$G" calibrate "$WORK/$m-bf16.glmq" --text "$T/train.txt" --windows "${WINDOWS:-256}" \
    -o "$WORK/$m.stats" 2>/dev/null
  "$G" eval ppl "$WORK/$m-bf16.glmq" --text "$T/valid.txt" --max-windows "$MW" \
    --save-logits "$WORK/$m.logits" --json >"$WORK/$m-bf16.json" 2>/dev/null
  for meth in "${METHODS[@]}"; do
    for g in 128 64 32; do row "$m" "$meth" "$g" 0; done
    for n in "${KEEP[@]}"; do row "$m" "$meth" 128 "$n"; done
    row "$m" "$meth" 32 "${KEEP[0]}"
  done
  rm -f "$WORK/$m.logits"
done
