# Cross-module tests of the runtime (forward pass, kernels, evaluation).
if(TARGET glmq_runtime)
  glmq_test(runtime_parity_test SOURCES runtime_parity_test.cc LIBS glmq_runtime LABELS golden)
  glmq_test(runtime_kernels_test SOURCES runtime_kernels_test.cc LIBS glmq_runtime LABELS unit)
endif()
