#!/usr/bin/env bash
# The GPU check of the CUDA runtime (issue 14), in one run on a machine with
# an NVIDIA GPU: builds the CUDA targets for the card's architecture, runs
# `ctest -L cuda` (CUDA vs CPU parity on the fixtures, op tests), the GEMM
# benchmark (bf16 / q4-g128 / q8 through the backend vs bare cuBLAS bf16),
# and decode / prefill of the full-size synthetic GLM-4-9B in bf16, int8
# and int4-g128 at 1K and 32K context. Writes $OUT/cuda_check.md (the table,
# card, driver and CUDA version first) and the logs beside it; every phase
# appends to the table as it ends, so a run cut short still reports.
#
#   OUT=/tmp/out bash bench/cuda_check.sh
#
# The `vision` phase times the full-size vision towers (glm-4v-9b EVA2-CLIP
# and GLM-4.1V, 1120x1120, random bf16 weights) on the GPU
# (bench/vision_bench BM_VisionTowerCuda); vision_cuda_test (the towers'
# parity with the fixtures' references) runs in the `test` phase.
#
# env: OUT (default ./cuda_check_out), PHASES (default "build test gemm
#      vision model"), WORK (scratch for the synthetic model, default /tmp/glmq-cuda;
#      needs ~40 GB), LAYERS (synthetic model layers, default: the config's
#      40), CONTEXTS (default 1024,32768), SCHEMES (default "bf16 int8
#      int4-g128"), JOBS (build jobs, default nproc), SHARED (default
#      ../shared, else the shared/ folder of the checkout), B (build folder,
#      default build-cuda).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/cuda_check_out}
PHASES=${PHASES:-build test gemm vision model}
WORK=${WORK:-/tmp/glmq-cuda}
CONTEXTS=${CONTEXTS:-1024,32768}
SCHEMES=${SCHEMES:-bf16 int8 int4-g128}
JOBS=${JOBS:-$(nproc)}
SHARED=${SHARED:-../shared}
[[ -d $SHARED ]] || SHARED=shared
B=${B:-build-cuda}
T=$OUT/cuda_check.md
mkdir -p "$OUT" "$WORK"
export PATH=$PATH:/usr/local/cuda/bin
export OMP_WAIT_POLICY=passive

note() { echo "$*" | tee -a "$T"; }
phase() { [[ " $PHASES " == *" $1 "* ]]; }

cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d .)
note "# glmq CUDA check ($(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null))"
note ""
note "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
note "nvcc: $(nvcc --version 2>&1 | tail -1)"
note "compute capability: ${cap:-none found}"
note ""

if phase build; then
  t0=$(date +%s)
  cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DGLMQ_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="${cap:-90}" >"$OUT/configure.log" 2>&1 &&
    cmake --build $B -j "$JOBS" --target glmq cuda_bench cuda_backend_test runtime_cuda_test \
      cuda_host_test vision_cuda_test vision_bench >"$OUT/build.log" 2>&1
  rc=$?
  note "build (sm_${cap:-90}): exit $rc in $(( $(date +%s) - t0 )) s (logs: configure.log, build.log)"
  [[ $rc -eq 0 ]] || { tail -30 "$OUT/build.log"; exit 1; }
fi
[[ -x $B/bench/cuda_bench ]] && note "$($B/bench/cuda_bench info 2>&1)"
note ""

if phase test; then
  t0=$(date +%s)
  ctest --test-dir $B -L cuda --output-on-failure -j 4 --timeout 900 >"$OUT/ctest_cuda.log" 2>&1
  rc=$?
  note "ctest -L cuda: exit $rc in $(( $(date +%s) - t0 )) s; $(grep -E 'tests passed|tests failed' "$OUT/ctest_cuda.log" | tail -1)"
  grep -E "ppl cuda .* mean KL" "$OUT/ctest_cuda.log" | sed 's/^/    /' | tee -a "$T"
  note "skipped: $(grep -cE '\(Skipped\)' "$OUT/ctest_cuda.log") (no device seen if all are)"
  grep -E "^\s+[0-9]+ - .*\((Failed|Timeout)" "$OUT/ctest_cuda.log" | head -40 | sed 's/^/    /' | tee -a "$T"
  note ""
fi

if phase gemm; then
  note "| shape | path | throughput | vs cuBLAS |"
  note "|---|---|---|---|"
  timeout 300 $B/bench/cuda_bench gemm 27392 4096 2048 2>&1 | tee -a "$T"
  timeout 300 $B/bench/cuda_bench gemm 4096 4096 2048 2>&1 | tee -a "$T"
  note ""
fi

if phase vision; then
  t0=$(date +%s)
  timeout 900 $B/bench/vision_bench --benchmark_filter=BM_VisionTowerCuda \
    >"$OUT/vision_bench.log" 2>&1
  rc=$?
  note "vision towers on the GPU (1120x1120, full depth, random bf16): exit $rc in $(( $(date +%s) - t0 )) s"
  grep -E "^BM_VisionTowerCuda" "$OUT/vision_bench.log" | sed 's/^/    /' | tee -a "$T"
  timeout 600 $B/tests/vision_cuda_test >"$OUT/vision_cuda_test.log" 2>&1
  note "vision_cuda_test (parity with the fixtures' references): exit $?"
  grep -E "img1|cuda (out|embed|layer|block)" "$OUT/vision_cuda_test.log" | sed 's/^/    /' | tee -a "$T"
  note ""
fi

if phase model; then
  G=$B/tools/glmq
  cfg=$SHARED/reference/configs/glm-4-9b-chat.json
  tok=$SHARED/fixtures/models/glm4-tiny-chat
  bf16=$WORK/glm-4-9b-chat.bf16.glmq
  if [[ ! -f $bf16 ]]; then
    t0=$(date +%s)
    $G synth --config "$cfg" -o "$WORK/hf" --seed 1 ${LAYERS:+--layers $LAYERS} \
      --tokenizer "$tok" >"$OUT/synth.log" 2>&1 &&
      $G convert "$WORK/hf" -o "$bf16" >>"$OUT/synth.log" 2>&1
    rc=$?
    rm -rf "$WORK/hf"
    note "synthetic glm-4-9b-chat${LAYERS:+ ($LAYERS layers)}: exit $rc in $(( $(date +%s) - t0 )) s"
  fi
  note ""
  note "| model | phase | context | rate | weight bandwidth |"
  note "|---|---|---|---|---|"
  for s in $SCHEMES; do
    f=$bf16
    if [[ $s != bf16 ]]; then
      f=$WORK/glm-4-9b-chat.$s.glmq
      [[ -f $f ]] || $G quantize "$bf16" -o "$f" --scheme "$s" >"$OUT/quantize-$s.log" 2>&1 ||
        { note "| $s | quantize failed (quantize-$s.log) | | | |"; continue; }
    fi
    timeout 600 $B/bench/cuda_bench model "$f" "$CONTEXTS" 32 2048 2>&1 | tee -a "$T"
  done
  note ""
fi
note "done $(date -u +%FT%TZ)"
