# Calibration cost: statistics, GPTQ, AWQ on synthetic GLM-4-shaped layers.
glmq_bench(calib_bench SOURCES calib_bench.cc LIBS glmq_calib glmq_quant_calib)
