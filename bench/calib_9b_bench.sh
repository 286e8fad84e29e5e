#!/usr/bin/env bash
# Full-size calibration benchmark (docs/calibration-results.md, "Full-size
# benchmark"): `glmq calibrate` a .glmq on WINDOWS windows of 256 tokens of
# train.txt, then `glmq quantize --scheme int4-g128 --method M` for each
# method, each under /usr/bin/time -v with the process's RssAnon / RssFile
# sampled every 2 s. Prints one line per run; logs stay in OUT_DIR, the
# statistics and quantized files are deleted (KEEP=1 keeps them; GLM-4-9B's
# statistics are ~21 GB).
#
#   bench/calib_9b_bench.sh MODEL.glmq OUT_DIR [WINDOWS [METHODS]]
#   bench/calib_9b_bench.sh /work/synth/glm-4-9b-chat.glmq /work/cb 2 "awq gptq"
#
# env: GLMQ (default build/tools/glmq), SHARED (default ../shared),
#      TOKENIZER (HF folder; default the glm4-tiny-chat fixture, for glmq synth
#      models that carry none), LOCK (default /tmp/glmq-bench.lock),
#      OMP_NUM_THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 2 ]] || { sed -n 10,11p "$0"; exit 2; }
MODEL=$1 OUT=$2 WINDOWS=${3:-2}
read -r -a METHODS <<<"${4:-awq gptq}"
G=$(realpath "${GLMQ:-build/tools/glmq}")
SHARED=${SHARED:-../shared}
TOKENIZER=${TOKENIZER:-$SHARED/fixtures/models/glm4-tiny-chat}
LOCK=${LOCK:-/tmp/glmq-bench.lock}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$OUT"

# run NAME CMD...: times CMD under the lock, samples its memory, prints a line.
run() {
  local name=$1
  shift
  local load0
  load0=$(cut -d' ' -f1 /proc/loadavg)
  flock "$LOCK" /usr/bin/time -v -o "$OUT/$name.time" "$@" >"$OUT/$name.log" 2>&1 &
  local job=$! pid
  : >"$OUT/$name.rss"
  while kill -0 "$job" 2>/dev/null; do
    pid=$(pgrep -n -f -- "$G" || true)  # the newest: glmq, once flock and time started it
    [[ -n $pid ]] && awk '/^RssAnon|^RssFile/ {printf "%s ", $2} END {print ""}' \
      "/proc/$pid/status" >>"$OUT/$name.rss" 2>/dev/null || true
    sleep 2
  done
  wait "$job" || { echo "$name failed: see $OUT/$name.log" >&2; tail -3 "$OUT/$name.log" >&2; exit 1; }
  awk -v name="$name" -v load0="$load0" -v load1="$(cut -d' ' -f1 /proc/loadavg)" -v rss="$OUT/$name.rss" '
    /Elapsed/ {wall = $NF} /User time/ {user = $NF} /System time/ {sys = $NF}
    /Maximum resident/ {peak = $NF / 1048576}
    END {
      while ((getline line < rss) > 0) { split(line, f, " "); if (f[1] > anon) anon = f[1]; if (f[2] > file) file = f[2] }
      printf "%-20s wall %s  user %.1f s  sys %.1f s  peak RSS %.2f GiB  max anon %.2f / file %.2f GiB  load %s -> %s\n",
             name, wall, user, sys, peak, anon / 1048576, file / 1048576, load0, load1
    }' "$OUT/$name.time"
}

STATS=$OUT/calib.stats
sync
run calibrate "$G" calibrate "$MODEL" --text "$SHARED/fixtures/text/train.txt" \
  --windows "$WINDOWS" --ctx 256 --tokenizer "$TOKENIZER" -o "$STATS"
for m in "${METHODS[@]}"; do
  sync
  run "quantize-$m" "$G" quantize "$MODEL" -o "$OUT/q-$m.glmq" --scheme int4-g128 \
    --method "$m" --calib "$STATS"
  "$G" inspect "$OUT/q-$m.glmq" | grep '^bits/weight' | sed "s|^|  q-$m: |"
  [[ ${KEEP:-0} == 1 ]] || rm -f "$OUT/q-$m.glmq"
done
[[ ${KEEP:-0} == 1 ]] || rm -f "$STATS"
