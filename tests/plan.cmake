# Size and VRAM planner (runtime/plan, specs/vram.md): hand arithmetic and
# the real GLM-4 configs / tensor lists in ../shared/reference.
if(TARGET glmq_plan AND TARGET glmq_convert)
  glmq_test(plan_sizes_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/plan_sizes_test.cc
            LIBS glmq_plan glmq_convert LABELS golden)
  glmq_test(plan_vram_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/plan_vram_test.cc
            LIBS glmq_plan glmq_convert LABELS unit)
endif()
if(TARGET glmq)
  glmq_test(plan_cli_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/plan_cli_test.cc
            LIBS glmq_core absl::strings LABELS integration)
  target_compile_definitions(plan_cli_test PRIVATE GLMQ_CLI="$<TARGET_FILE:glmq>")
  add_dependencies(plan_cli_test glmq)
endif()
