#!/bin/bash
# Quantize throughput / peak RSS (and, with DECODE=1, prefill / decode tok/s)
# on the shared synthetic GLM-4-9B (docs/benchmarks.md, "Quantization
# (issue 4)"). Run under the bench lock from the repository root:
#   flock /tmp/glmq-bench.lock bash bench/quant_9b_bench.sh [BUILD_DIR] [OUT_DIR]
# env: SRCS (inputs, default the bf16 .glmq and the HF folder), SCHEMES
# (default "int4-g128 int8"), DECODE=1 (also quant_decode_bench / quant_bench).
# Every input is evicted from the page cache first (posix_fadvise DONTNEED on
# its files only), so it is read cold; the disk's cold O_DIRECT read rate is
# measured before each input (dd iflag=direct, 4 GiB in 32 MiB blocks).
# Each quantized model is deleted after it is measured.
set -x
B=${1:-build}
OUT=${2:-/tmp/glmq-quant-bench}
SRCS=${SRCS:-/work/synth/glm-4-9b-chat.glmq /work/synth/glm-4-9b-chat}
SCHEMES=${SCHEMES:-int4-g128 int8}
mkdir -p "$OUT"
files() { if [[ -d $1 ]]; then ls "$1"/*.safetensors; else echo "$1"; fi; }
evict() {  # drop these files' pages (cold read), nothing else
  python3 -c "
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)" "$@"
}
date; uptime; free -g; df -h "$OUT" | tail -1
for SRC in $SRCS; do
  F=$(files "$SRC")
  first=$(echo "$F" | head -1)
  evict $F
  dd if="$first" of=/dev/null bs=32M count=128 iflag=direct 2>&1 | tail -1  # cold read rate
  for scheme in $SCHEMES; do
    evict $F; fincore $F | tail -3 || true
    uptime
    /usr/bin/time -v $B/tools/glmq quantize "$SRC" -o $OUT/$scheme.glmq --scheme $scheme \
      2> $OUT/quantize-$scheme.err
    grep -E "wrote|Elapsed|Maximum resident|Percent of CPU|User time|System time" \
      $OUT/quantize-$scheme.err
    uptime
    if [[ ${DECODE:-0} == 1 ]]; then
      $B/bench/quant_decode_bench $OUT/$scheme.glmq 2 64 8 16
      uptime
    fi
    rm -f $OUT/$scheme.glmq
  done
done
if [[ ${DECODE:-0} == 1 ]]; then
  $B/bench/quant_decode_bench /work/synth/glm-4-9b-chat.glmq 2 32 4 16
  uptime
  OMP_NUM_THREADS=2 $B/bench/quant_bench --benchmark_filter='QuantMatMul|Memory' --benchmark_min_time=0.5 2>&1 | grep BM_
  OMP_NUM_THREADS=2 $B/bench/quant_bench --benchmark_filter='Quantize' --benchmark_min_time=1 2>&1 | grep BM_
fi
uptime; date
