# Format (container) tests: malformed inputs and the glmq inspect/verify CLI.
glmq_test(format_malformed_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/format_malformed_test.cc
  LIBS glmq_format LABELS malformed)
