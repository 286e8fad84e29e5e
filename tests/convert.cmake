# Cross-module tests of the convert work (HF -> .glmq).
glmq_test(convert_roundtrip_test SOURCES convert_roundtrip_test.cc
  LIBS glmq_convert glmq_format LABELS integration)
glmq_test(convert_malformed_test SOURCES convert_malformed_test.cc
  LIBS glmq_convert glmq_format LABELS malformed)
