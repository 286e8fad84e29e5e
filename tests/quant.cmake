# Cross-module tests of the quantization area (quant/ + runtime/qkernels/ +
# the `glmq quantize` command).
if(TARGET glmq_qkernels)
  glmq_test(quant_kernels_test SOURCES quant_kernels_test.cc LIBS glmq_qkernels glmq_quant
            LABELS integration)
endif()
