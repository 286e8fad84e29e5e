# Runtime benchmarks (never tests): bandwidth, prefill / decode tok/s.
if(TARGET glmq_runtime AND TARGET glmq_convert)
  glmq_bench(runtime_bench SOURCES runtime_bench.cc LIBS glmq_runtime glmq_convert)
  target_compile_definitions(runtime_bench PRIVATE GLMQ_SHARED_DIR="${GLMQ_SHARED_DIR}")
endif()
