// Chat templates (tokenizer_config.json "chat_template", untrusted): the
// Jinja subset's lexer, parser and renderer over a small conversation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/tokenizer/jinja.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using glmq::jinja::Value;
  auto t = glmq::jinja::Template::Parse(std::string(reinterpret_cast<const char*>(data), size));
  if (!t.ok()) return 0;
  static const nlohmann::ordered_json kMessages = nlohmann::ordered_json::parse(
      R"([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},)"
      R"( {"role": "assistant", "content": "hello", "metadata": ""},)"
      R"( {"role": "observation", "content": "{\"x\": 1}"}])");
  (void)t->Render({{"messages", Value::FromJson(kMessages)},
                   {"add_generation_prompt", Value::Bool(true)},
                   {"bos_token", Value::String("<s>")},
                   {"tools", Value::None()}});
  return 0;
}
