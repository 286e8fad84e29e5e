# Calibration (issue 5): AWQ / GPTQ / imatrix math and statistics.
glmq_test(calib_math_test SOURCES calib_math_test.cc calib_fold_test.cc
          LIBS glmq_quant_calib LABELS unit)
glmq_test(calib_stats_test SOURCES calib_stats_test.cc LIBS glmq_calib LABELS unit)
