#!/bin/bash
# Prefill tok/s of the synthetic GLM-4-9B with glmq, alternating with
# llama.cpp on a GGUF of the same shape and bits when one is given
# (docs/benchmarks.md, "Prefill GEMM"). Run from the repository root under
# the bench lock:
#   flock /tmp/glmq-bench.lock bash bench/prefill_9b_bench.sh
# PAIRS: "GLMQ_FILE=GGUF_FILE ..." (GGUF_FILE may be empty: glmq alone);
# LL: commands (space-separated) each taking MODEL.gguf N_PROMPT THREADS REPS
#     and printing pp tok/s (llama-bench's pp protocol; e.g.
#     /work/ext/llbench/build/llbench_noamx), run after glmq in each round;
# TOKENS: prompt lengths; THREADS: 2; ROUNDS: glmq/llama.cpp alternations.
# glmq: bench/quant_decode_bench (prefill in one chunk, last-token logits,
# CPU seconds beside the wall time), OMP_WAIT_POLICY=passive as the glmq
# binary sets it.
B=${B:-build}
TOKENS=${TOKENS:-"128 512 2048"}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
Q=${Q:-/tmp/glmq-prefill-bench}
mkdir -p $Q && cp $B/bench/quant_decode_bench $Q/ || exit 1
date; uptime; free -g | head -2
for pair in $PAIRS; do
  glmq_file=${pair%%=*}
  gguf=${pair#*=}
  for n in $TOKENS; do
    for r in $(seq $ROUNDS); do
      echo "== $(basename $glmq_file) prefill $n, round $r, load $(cut -d' ' -f1 /proc/loadavg)"
      OMP_WAIT_POLICY=passive $Q/quant_decode_bench $glmq_file $THREADS $n 1 1 | grep prefill
      [ -z "$gguf" ] && continue
      for ll in $LL; do
        echo "== $(basename $ll) $(basename $gguf) pp$n, round $r, load $(cut -d' ' -f1 /proc/loadavg)"
        $ll $gguf $n $THREADS 1 2>/dev/null | grep "^pp"
      done
    done
  done
done
date; uptime
