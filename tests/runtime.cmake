# Cross-module tests of the runtime (forward pass, kernels, evaluation).
if(TARGET glmq_runtime)
  glmq_test(runtime_parity_test SOURCES runtime_parity_test.cc LIBS glmq_runtime LABELS golden)
  glmq_test(runtime_kernels_test SOURCES runtime_kernels_test.cc LIBS glmq_runtime LABELS unit)
  glmq_test(runtime_eval_test SOURCES runtime_eval_test.cc LIBS glmq_runtime LABELS unit)
  if(TARGET glmq_convert AND TARGET glmq_format)
    glmq_test(runtime_fixture_test SOURCES runtime_fixture_test.cc
      LIBS glmq_runtime glmq_convert LABELS golden)
    glmq_test(runtime_fixture_slow_test SOURCES runtime_fixture_slow_test.cc
      LIBS glmq_runtime glmq_convert LABELS slow)
  endif()
endif()
