# glmq_runtime: buffer sizes, weight sources, the GLM-4 model and forward
# pass, evaluation (perplexity, KL divergence). Included from
# runtime/CMakeLists.txt after the sub-libraries (glmq_cpu, ...).
add_library(glmq_runtime
  ${CMAKE_CURRENT_SOURCE_DIR}/buffers.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/weights.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/model.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/session.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/eval.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/logits_file.cc)
target_link_libraries(glmq_runtime PUBLIC glmq_core glmq_proto glmq_cpu)
if(TARGET glmq_format)
  target_sources(glmq_runtime PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/weights_glmq.cc)
  target_link_libraries(glmq_runtime PUBLIC glmq_format)
  if(TARGET glmq_tokenizer)
    target_sources(glmq_runtime PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/loaded_model.cc)
    target_link_libraries(glmq_runtime PUBLIC glmq_tokenizer)
  endif()
endif()
