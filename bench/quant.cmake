# Quantization benchmarks (never tests).
if(TARGET glmq_qkernels)
  glmq_bench(quant_bench SOURCES quant_bench.cc LIBS glmq_qkernels glmq_quant)
  target_link_libraries(quant_bench PRIVATE OpenMP::OpenMP_CXX)
endif()
if(TARGET glmq_runtime)
  glmq_bench(quant_decode_bench SOURCES quant_decode_bench.cc LIBS glmq_runtime)
endif()
