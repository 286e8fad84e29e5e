# Tokenizer encoding speed (MB/s) on the fixture corpus.
if(TARGET glmq_tokenizer)
  glmq_bench(tokenizer_bench
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer_bench.cc
    LIBS glmq_tokenizer)
  target_compile_definitions(tokenizer_bench PRIVATE GLMQ_SHARED_DIR="${GLMQ_SHARED_DIR}")
endif()
