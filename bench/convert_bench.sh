#!/usr/bin/env bash
# Benchmark of `glmq convert` on a full-size checkpoint (not a test).
# Usage: bench/convert_bench.sh <glmq binary> [config.json] [workdir]
#   Measures, each from a cold page cache (the files involved are evicted
#   with posix_fadvise(DONTNEED); no system-wide drop_caches):
#     1. the disk's sequential read speed (cat of the shards),
#     2. its fsync'd write speed (WRITE_GB of shard data copied, warm source),
#     3. its copy speed (the same WRITE_GB read cold and written + fsync'd:
#        the floor of any convert on one disk, which must do both),
#     4. /usr/bin/time -v glmq convert: wall, GB/s, max RSS.
# Env:
#   HF_DIR=dir   use this existing HF folder (e.g. /work/synth/glm-4-9b-chat)
#                instead of synthesizing one into workdir (kept afterwards).
#   OUT=path     write the .glmq here and keep it (default: workdir, deleted).
#   LAYERS=N     scaled variant when synthesizing.
#   WRITE_GB=G   size of the write and copy tests (default 4).
#   KEEP_GOING=1 skip steps 1-3 (only time the convert).
# "File system inputs/outputs" (512-byte blocks) show whether the shards
# were read from disk once (~36.7M blocks for 18.8 GB) or more.
set -euo pipefail
GLMQ=${1:?glmq binary}
CONFIG=${2:-$(dirname "$0")/../../shared/reference/configs/glm-4-9b-chat.json}
WORK=${3:-/tmp/glmq-convert-bench}
WRITE_GB=${WRITE_GB:-4}
rm -rf "$WORK"; mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
if [[ -n "${HF_DIR:-}" ]]; then
  HF=$HF_DIR
else
  HF=$WORK/hf
  EXTRA=()
  [[ -n "${LAYERS:-}" ]] && EXTRA+=(--layers "$LAYERS")
  "$GLMQ" synth --config "$CONFIG" -o "$HF" --seed 1 "${EXTRA[@]}"
fi
MODEL=${OUT:-$WORK/model.glmq}
SHARDS=("$HF"/*.safetensors)
BYTES=$(stat -c %s "${SHARDS[@]}" | paste -sd+ | bc)
# Evicts the named files from the page cache (clean pages only: sync first).
evict() {
  sync
  python3 -c 'import os, sys
for f in sys.argv[1:]:
    if os.path.exists(f):
        fd = os.open(f, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$@"
}
rate() { echo "$1 / ($3 - $2) / 1000000000" | bc -l; }
now() { date +%s.%N; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -z "${KEEP_GOING:-}" ]]; then
  evict "${SHARDS[@]}"
  T0=$(now); cat "${SHARDS[@]}" > /dev/null; T1=$(now)
  READ=$(rate "$BYTES" "$T0" "$T1")
  printf 'disk cold read: %.2f GB/s (%d bytes)\n' "$READ" "$BYTES"
  # Write and copy tests on the first WRITE_GB of the shards, in 64 MiB blocks.
  COUNT=$((WRITE_GB * 1000000000 / 67108864))
  WBYTES=$((COUNT * 67108864))
  (cat "${SHARDS[@]}" 2>/dev/null || true) | head -c "$WBYTES" > /dev/null  # warm source
  T0=$(now)
  (cat "${SHARDS[@]}" 2>/dev/null || true) | dd of="$WORK/write.bin" bs=64M count="$COUNT" iflag=fullblock conv=fsync status=none
  T1=$(now)
  printf "disk fsync'd write: %.2f GB/s (%d bytes, warm source)\n" "$(rate "$WBYTES" "$T0" "$T1")" "$WBYTES"
  rm -f "$WORK/write.bin"
  evict "${SHARDS[@]}"
  T0=$(now)
  (cat "${SHARDS[@]}" 2>/dev/null || true) | dd of="$WORK/copy.bin" bs=64M count="$COUNT" iflag=fullblock conv=fsync status=none
  T1=$(now)
  printf "disk copy (cold read + fsync'd write): %.2f GB/s (%d bytes)\n" "$(rate "$WBYTES" "$T0" "$T1")" "$WBYTES"
  rm -f "$WORK/copy.bin"
fi
evict "${SHARDS[@]}" "$MODEL"
/usr/bin/time -v "$GLMQ" convert "$HF" -o "$MODEL" 2> "$WORK/time.txt" || { cat "$WORK/time.txt"; exit 1; }
grep -E 'wrote|Elapsed|Maximum resident|Percent of CPU|File system (in|out)puts' "$WORK/time.txt"
WALL=$(grep Elapsed "$WORK/time.txt" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
RSS=$(grep 'Maximum resident' "$WORK/time.txt" | awk '{print $NF}')
printf 'convert: %.1f s wall, %.2f GB/s, max RSS %.0f MiB' \
  "$WALL" "$(echo "$BYTES / $WALL / 1000000000" | bc -l)" "$(echo "$RSS / 1024" | bc -l)"
[[ -n "${READ:-}" ]] && printf ', %.0f%% of cold read speed' "$(echo "100 * $BYTES / $WALL / 1000000000 / $READ" | bc -l)"
echo
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
