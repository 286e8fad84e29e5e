// A model's chat template (tokenizer_config.json "chat_template", Jinja)
// and the conversations it renders: messages in the OpenAI / transformers
// format, as `transformers.apply_chat_template` takes them.
//
//   [{"role": "system", "content": "...", "tools": [...]},       // tools: GLM-4-9B-chat style
//    {"role": "user", "content": "..."},
//    {"role": "assistant", "metadata": "get_weather", "content": "{\"city\": ...}"},
//    {"role": "observation", "content": "{\"temp\": 21}"}]
//
// Roles are GLM-4's: system, user, assistant, observation. Every other
// field is passed to the template as it is (the template decides what it
// renders). A --messages file holds that list, or {"messages": [...],
// "tools": [...]} for templates that take tools at the top (GLM-4-0414).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "runtime/tokenizer/jinja.h"

namespace glmq {

struct Conversation {
  Conversation() = default;  // not an aggregate: {{"user", "hi"}} means ChatMessages

  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;  // null: none (the template sees tools = None)

  // Appends {"role": role, "content": content}.
  void Add(const std::string& role, const std::string& content);
};

// The roles GLM-4's templates know.
const std::vector<std::string>& ChatRoles();

// Checks that every message is an object with a known "role" (string) and
// a "content"; errors name `where` and the message index.
absl::Status ValidateConversation(const Conversation& c, absl::string_view where);

// Parses a messages file (see above); errors name `where`.
absl::StatusOr<Conversation> ParseConversation(absl::string_view json, absl::string_view where);

// GLM-4's chat format for tokenizers without a template (glm-4-9b,
// glm-4v-9b): as glm-4-9b-chat's template without its tool prompts.
extern const char kDefaultGlm4ChatTemplate[];

class ChatTemplate {
 public:
  // `source`: Jinja text (kDefaultGlm4ChatTemplate when empty). `variables`:
  // extra top-level names transformers passes (eos_token, pad_token, ...).
  // A template outside glmq's Jinja subset is an error naming its line.
  static absl::StatusOr<ChatTemplate> Create(
      const std::string& source, std::vector<std::pair<std::string, std::string>> variables);

  // The prompt text. Message contents and other message data are marked
  // untrusted; template text and the (validated) roles are trusted.
  absl::StatusOr<jinja::MarkedText> Render(const Conversation& c, bool add_generation_prompt) const;

  bool is_default() const { return is_default_; }

 private:
  jinja::Template template_;
  std::vector<std::pair<std::string, jinja::Value>> variables_;
  bool is_default_ = false;
};

}  // namespace glmq
