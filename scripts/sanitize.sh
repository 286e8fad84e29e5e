#!/usr/bin/env bash
# Builds glmq with sanitizers and runs the default test suite under them
# (README.md, "Sanitizers").
#
#   scripts/sanitize.sh address [ctest args]   ASan + UBSan, in build-asan/
#   scripts/sanitize.sh thread  [ctest args]   TSan, in build-tsan/
#
# Any report fails the test that made it (-fno-sanitize-recover, halt_on_error).
# TSan: libgomp (GCC's OpenMP runtime) is not instrumented, so TSan cannot see
# its barriers and would report every OpenMP team as a race. OMP_THREAD_LIMIT=1
# caps every team at one thread (num_threads clauses included); the threads glmq
# starts itself (quantize's read-ahead and write-behind, convert's writer
# thread, verify-on-load hashing) run as usual and are checked.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?address or thread}; shift
case "$kind" in
  address) dir=build-asan
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} ;;
  thread) dir=build-tsan
    export OMP_THREAD_LIMIT=1
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} ;;
  *) echo "usage: $0 address|thread [ctest args]" >&2; exit 2 ;;
esac
# -DGLMQ_CUDA=OFF: nvcc takes no host sanitizer flags, and the device code
# is not what these check (ctest -LE cuda skips its tests anyway).
cmake -S . -B "$dir" -G Ninja -DGLMQ_SANITIZE="$kind" -DGLMQ_CUDA=OFF \
  $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
nice cmake --build "$dir"
ctest --test-dir "$dir" -LE 'slow|cuda' --output-on-failure -j2 --timeout 900 "$@"
