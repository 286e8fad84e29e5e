# Container benchmarks: writer throughput, VerifyChecksums GB/s, Open cost.
glmq_bench(format_benchmark SOURCES ${CMAKE_CURRENT_LIST_DIR}/../format/format_benchmark.cc
  LIBS glmq_format)
