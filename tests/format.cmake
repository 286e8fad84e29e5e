# Format (container) tests: malformed inputs and the glmq inspect/verify CLI.
glmq_test(format_malformed_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/format_malformed_test.cc
  LIBS glmq_format LABELS malformed)
if(TARGET glmq)
  glmq_test(format_cli_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/format_cli_test.cc
    LIBS glmq_format LABELS integration)
  target_compile_definitions(format_cli_test PRIVATE GLMQ_CLI="$<TARGET_FILE:glmq>")
  add_dependencies(format_cli_test glmq)
endif()
