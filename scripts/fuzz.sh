#!/usr/bin/env bash
# Long fuzzing runs of glmq's parsers (docs/fuzzing.md).
#
#   scripts/fuzz.sh build                 configure + build build-fuzz/ (clang, libFuzzer,
#                                         ASan + UBSan)
#   scripts/fuzz.sh run SECONDS [T ...]   run each target T (default: all) for SECONDS, one
#                                         after the other, at nice 19; the corpus grows in
#                                         build-fuzz/corpus/T, crashes land in
#                                         build-fuzz/artifacts/T, logs in build-fuzz/logs
#   scripts/fuzz.sh parallel SECONDS      the same, all targets at once (one process each)
#   scripts/fuzz.sh seeds                 rewrite fuzz/corpus/* from the fixtures
#                                         (fuzz_make_seeds, from the normal build/)
#   scripts/fuzz.sh summary               one line per target from the logs
# Needs clang-14 and its compiler-rt (Debian: clang-14 libclang-rt-14-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${GLMQ_FUZZ_BUILD:-build-fuzz}  # or a clang build-asan (scripts/sanitize.sh with CXX=clang++-14)
TARGETS=(glmq_reader safetensors hf_config tiktoken tokenizer_json logits tensor_type image gguf
         hf_quant chat_template)

build() {
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DGLMQ_FUZZ=ON -DGLMQ_SANITIZE=address -DGLMQ_CUDA=OFF \
    $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  nice cmake --build "$B" --target $(printf '%s_fuzzer ' "${TARGETS[@]}")
}

# run_one TARGET SECONDS: one libFuzzer run, logged.
run_one() {
  local t=$1 secs=$2
  mkdir -p "$B/corpus/$t" "$B/artifacts/$t" "$B/logs"
  local log="$B/logs/$t.$(date +%Y%m%d-%H%M%S).log"
  echo "fuzz: $t for ${secs}s -> $log"
  # -rss_limit_mb: tokenizers and models are small; anything near 2 GB is a bug.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
  nice -n 19 "$B/fuzz/${t}_fuzzer" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$B/artifacts/$t/" \
    "$B/corpus/$t" "fuzz/corpus/$t" > "$log" 2>&1 || echo "fuzz: $t stopped with a finding"
}

parallel() {
  local secs=$1
  for t in "${TARGETS[@]}"; do run_one "$t" "$secs" & done
  wait
}

run() {
  local secs=$1; shift
  local targets=("$@")
  [ ${#targets[@]} -gt 0 ] || targets=("${TARGETS[@]}")
  for t in "${targets[@]}"; do run_one "$t" "$secs"; done
}

summary() {
  for log in "$B"/logs/*.log; do
    local t execs cov secs crashes
    t=$(basename "$log" | cut -d. -f1)
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1 || true)
    # a run cut short has no final stats: its last status line counts
    [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true)
    secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | awk '{print $5}' | tail -1 || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}' || true)
    crashes=$(grep -c -E '^==[0-9]+==ERROR|deadly signal|Test unit written' "$log" || true)
    echo "$t $(basename "$log") execs=${execs:-?} seconds=${secs:-?} cov=${cov:-?} findings=$crashes"
  done
}

case "${1:-}" in
  build) build ;;
  run) shift; run "$@" ;;
  parallel) shift; parallel "$@" ;;
  seeds) rm -rf fuzz/corpus && build/fuzz/fuzz_make_seeds fuzz/corpus && ls fuzz/corpus/* ;;
  summary) summary ;;
  *) sed -n 2,14p "$0"; exit 2 ;;
esac
