#!/bin/bash
# Decode / prefill of the synthetic GLM-4-9B in bf16, int4-g128 and int8, with
# the read bandwidth beside them (docs/benchmarks.md, "Decode after the GEMV
# rework"). Run from the repository root under the bench lock:
#   flock /tmp/glmq-bench.lock bash bench/decode_9b_bench.sh
B=${B:-build}                      # build dir whose binaries are measured
Q=${Q:-/tmp/glmq-decode-bench}     # binaries are copied here (rebuilds do not disturb a run)
SRC=${SRC:-/work/synth/glm-4-9b-chat.glmq}
mkdir -p $Q && cp $B/bench/runtime_bench $B/bench/quant_decode_bench $B/bench/quant_bench $B/tools/glmq $Q/ || exit 1
cd $Q
date; uptime; free -g | head -2
$Q/runtime_bench --benchmark_filter='BM_ReadBandwidth|BM_Gemv/2|BM_Prefill/0|BM_Decode/0' --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>&1 | grep median
OMP_NUM_THREADS=2 $Q/quant_bench --benchmark_filter='Dram|Memory' --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>&1 | grep median
for scheme in int4-g128 int8; do
  uptime
  /usr/bin/time -v $Q/glmq quantize $SRC -o $Q/$scheme.glmq --scheme $scheme 2> q-$scheme.err >/dev/null
  grep -E "Elapsed|Maximum resident|User time|System time" q-$scheme.err
  uptime
  fincore $Q/$scheme.glmq | tail -1
  $Q/quant_decode_bench $Q/$scheme.glmq 2 64 8 16
  $Q/quant_decode_bench $Q/$scheme.glmq 2 64 8 16
  uptime
  rm -f $Q/$scheme.glmq
done
cat $SRC > /dev/null
fincore $SRC | tail -1
GLMQ_BENCH_MODEL=$SRC $Q/runtime_bench --benchmark_filter='BM_Decode/1|BM_Prefill/1' --benchmark_repetitions=2 2>&1 | grep "^BM" | grep -v "_mean\|_stddev\|_cv"
$Q/runtime_bench --benchmark_filter='BM_ReadBandwidth' --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>&1 | grep median
uptime; date
