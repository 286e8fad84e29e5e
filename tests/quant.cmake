# Cross-module tests of the quantization area (quant/ + runtime/qkernels/ +
# the `glmq quantize` command).
if(TARGET glmq_qkernels)
  glmq_test(quant_kernels_test SOURCES quant_kernels_test.cc LIBS glmq_qkernels glmq_quant
            LABELS integration)
endif()
if(TARGET glmq_runtime AND TARGET glmq_convert AND TARGET glmq_format)
  glmq_test(quant_cli_test SOURCES quant_cli_test.cc
            LIBS glmq_runtime glmq_convert glmq_format LABELS integration)
  add_dependencies(quant_cli_test glmq)
endif()
if(TARGET glmq_cpu)
  glmq_test(quant_embedding_test SOURCES quant_embedding_test.cc LIBS glmq_cpu glmq_quant
            LABELS unit)
endif()
