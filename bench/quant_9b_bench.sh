#!/bin/bash
# Quantize throughput / peak RSS and prefill / decode tok/s on the shared
# synthetic GLM-4-9B (docs/benchmarks.md, "Quantization (issue 4)").
# Run under the bench lock from the repository root:
#   flock /tmp/glmq-bench.lock bash bench/quant_9b_bench.sh [BUILD_DIR] [OUT_DIR]
# Each quantized model is deleted after it is measured.
set -x
B=${1:-build-qperf}
OUT=${2:-/work/qperf-tmp}
SRC=/work/synth/glm-4-9b-chat.glmq
evict() {  # drop this file's pages (cold read), nothing else
  python3 -c "import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)" "$1"
}
date; uptime; free -g; df -h "$OUT" | tail -1
for scheme in int4-g128 int8; do
  evict $SRC; fincore $SRC || true
  uptime
  /usr/bin/time -v $B/tools/glmq quantize $SRC -o $OUT/$scheme.glmq --scheme $scheme 2> $OUT/quantize-$scheme.err
  grep -E "wrote|Elapsed|Maximum resident|Percent of CPU|User time|System time" $OUT/quantize-$scheme.err
  uptime
  $B/bench/quant_decode_bench $OUT/$scheme.glmq 2 64 8 16
  uptime
  rm -f $OUT/$scheme.glmq
done
$B/bench/quant_decode_bench $SRC 2 32 4 16
uptime
OMP_NUM_THREADS=2 $B/bench/quant_bench --benchmark_filter='QuantMatMul|Memory' --benchmark_min_time=0.5 2>&1 | grep BM_
OMP_NUM_THREADS=2 $B/bench/quant_bench --benchmark_filter='Quantize' --benchmark_min_time=1 2>&1 | grep BM_
uptime; date
