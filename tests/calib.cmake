# Calibration (issue 5): AWQ / GPTQ / imatrix math and statistics.
glmq_test(calib_math_test SOURCES calib_math_test.cc calib_fold_test.cc
          LIBS glmq_quant_calib LABELS unit)
glmq_test(calib_linalg_test SOURCES calib_linalg_test.cc LIBS glmq_quant_calib LABELS unit)
glmq_test(calib_stats_test SOURCES calib_stats_test.cc LIBS glmq_calib LABELS unit)
if(TARGET glmq_runtime AND TARGET glmq_convert)
  # glmq calibrate -> quantize end to end (tests/calib_e2e_util.h).
  glmq_test(calib_e2e_test SOURCES calib_e2e_test.cc LIBS glmq_calib glmq_core
            LABELS integration)
  add_dependencies(calib_e2e_test glmq)
  glmq_test(calib_e2e_slow_test SOURCES calib_e2e_slow_test.cc LIBS glmq_core LABELS slow)
  add_dependencies(calib_e2e_slow_test glmq)
endif()
