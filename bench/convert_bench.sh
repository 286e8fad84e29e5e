#!/usr/bin/env bash
# Benchmark of `glmq convert` on a synthesized full-size checkpoint (not a
# test). Usage: bench/convert_bench.sh <glmq binary> [config.json] [workdir]
#   Synthesizes the model (18.8 GB for glm-4-9b-chat), measures the disk's
#   cold sequential read speed on the shards, then runs /usr/bin/time -v
#   glmq convert (wall, GB/s, max RSS). Deletes everything afterwards.
#   Env: LAYERS=N for a scaled variant.
set -euo pipefail
GLMQ=${1:?glmq binary}
CONFIG=${2:-$(dirname "$0")/../../shared/reference/configs/glm-4-9b-chat.json}
WORK=${3:-/tmp/glmq-convert-bench}
rm -rf "$WORK"; mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
EXTRA=()
[[ -n "${LAYERS:-}" ]] && EXTRA+=(--layers "$LAYERS")
"$GLMQ" synth --config "$CONFIG" -o "$WORK/hf" --seed 1 "${EXTRA[@]}"
BYTES=$(cat "$WORK"/hf/*.safetensors | wc -c)
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || echo "(cannot drop caches: read figures may be warm)"; }
drop
T0=$(date +%s.%N); cat "$WORK"/hf/*.safetensors > /dev/null; T1=$(date +%s.%N)
READ=$(echo "$BYTES / ($T1 - $T0) / 1000000000" | bc -l)
printf 'disk cold read: %.2f GB/s (%d bytes)\n' "$READ" "$BYTES"
drop
/usr/bin/time -v "$GLMQ" convert "$WORK/hf" -o "$WORK/model.glmq" 2> "$WORK/time.txt" || { cat "$WORK/time.txt"; exit 1; }
grep -E 'wrote|Elapsed|Maximum resident' "$WORK/time.txt"
WALL=$(grep Elapsed "$WORK/time.txt" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
RSS=$(grep 'Maximum resident' "$WORK/time.txt" | awk '{print $NF}')
printf 'convert: %.1f s wall, %.2f GB/s, max RSS %.0f MiB, %.0f%% of cold read speed\n' \
  "$WALL" "$(echo "$BYTES / $WALL / 1000000000" | bc -l)" "$(echo "$RSS / 1024" | bc -l)" \
  "$(echo "100 * $BYTES / $WALL / 1000000000 / $READ" | bc -l)"
