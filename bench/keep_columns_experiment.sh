#!/usr/bin/env bash
# Does keeping the N most outlying input columns of every linear at f16 pay
# against spending the same bits on smaller groups? Fake-quant experiment
# (bench/keep_columns_experiment.cc: f32 files holding the dequantized
# weights with the kept columns restored), so every row of the table is
# scored the same way, without the runtime's int8 activation rounding;
# docs/calibration-results.md ("Keeping outlier columns at f16").
#
#   bench/keep_columns_experiment.sh [BUILD_DIR [WORK_DIR]]
#
# env: SHARED (default ../shared), MODELS (default "glm4-tiny-chat-outlier
#      glm4-tiny-chat"), METHODS (default "rtn imatrix gptq"), KEEP (default
#      "2 4 8 16"), WINDOWS (calibration windows, 256), MAX_WINDOWS (100).
# Prints one markdown row per file: model, method, groups, kept columns,
# bits/weight (of which kept columns), mean KL vs bf16.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
WORK=${2:-/tmp/glmq-keep-columns}
G="$BUILD/tools/glmq"
X="$BUILD/bench/keep_columns_experiment"
SHARED=${SHARED:-../shared}
T="$SHARED/fixtures/text"
read -r -a MODELS <<<"${MODELS:-glm4-tiny-chat-outlier glm4-tiny-chat}"
read -r -a METHODS <<<"${METHODS:-rtn imatrix gptq}"
read -r -a KEEP <<<"${KEEP:-2 4 8 16}"
MW=${MAX_WINDOWS:-100}
mkdir -p "$WORK"

# One row: model method group N (group 128 = the int4-g128 preset; 64 / 32
# = its block linears at that group size).
row() {
  local m=$1 meth=$2 g=$3 n=$4 out="$WORK/$1-$2-g$3-k$4"
  local tt=""
  [[ $g != 128 ]] && tt="^blk\\.=q4:$g"
  local bits
  bits=$(TENSOR_TYPE=$tt "$X" "$WORK/$m-bf16.glmq" "$WORK/$m.stats" "$out.glmq" int4-g128 \
    "$meth" "$n")
  "$G" eval kld --model "$out.glmq" --ref-logits "$WORK/$m.logits" --text "$T/valid.txt" \
    --max-windows "$MW" --json >"$out.json" 2>/dev/null
  rm -f "$out.glmq"
  python3 -c "import json,sys; b=json.loads(sys.argv[1]); k=json.load(open(sys.argv[2]));
print(f'| {sys.argv[3]} | {sys.argv[4]} | {sys.argv[5]} | {sys.argv[6]} | {b[\"bpw\"]:.3f} ({b[\"keep_bpw\"]:.3f}) | {k[\"mean_kld\"]:.6f} |')" \
    "$bits" "$out.json" "$m" "$meth" "$g" "$n"
}

echo "| model | method | group | kept columns | bits/weight (kept) | mean KL |"
echo "|---|---|---|---|---|---|"
for m in "${MODELS[@]}"; do
  "$G" convert "$SHARED/fixtures/models/$m" -o "$WORK/$m-bf16.glmq" 2>/dev/null
  "$G" calibrate "$WORK/$m-bf16.glmq" --text "$T/train.txt" --windows "${WINDOWS:-256}" \
    -o "$WORK/$m.stats" 2>/dev/null
  "$G" eval ppl "$WORK/$m-bf16.glmq" --text "$T/valid.txt" --max-windows "$MW" \
    --save-logits "$WORK/$m.logits" --json >/dev/null 2>&1
  for meth in "${METHODS[@]}"; do
    for g in 128 64 32; do row "$m" "$meth" "$g" 0; done
    for n in "${KEEP[@]}"; do row "$m" "$meth" 128 "$n"; done
  done
  rm -f "$WORK/$m.logits"
done
