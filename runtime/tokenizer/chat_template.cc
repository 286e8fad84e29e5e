#include "runtime/tokenizer/chat_template.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"

namespace glmq {

const char kDefaultGlm4ChatTemplate[] =
    "[gMASK]<sop>{% for m in messages %}"
    "{% if m['tools'] is defined %}{{ raise_exception('this tokenizer has no chat template with "
    "tool prompts: put the tool descriptions in the system message') }}{% endif %}"
    "{% if m['content'] %}<|{{ m['role'] }}|>{{ m['metadata'] }}\n{{ m['content'] }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

void Conversation::Add(const std::string& role, const std::string& content) {
  nlohmann::ordered_json m = nlohmann::ordered_json::object();
  m["role"] = role;
  m["content"] = content;
  messages.push_back(std::move(m));
}

const std::vector<std::string>& ChatRoles() {
  static const std::vector<std::string> roles = {"system", "user", "assistant", "observation"};
  return roles;
}

absl::Status ValidateConversation(const Conversation& c, absl::string_view where) {
  if (!c.messages.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": messages must be a list"));
  }
  for (size_t i = 0; i < c.messages.size(); ++i) {
    const nlohmann::ordered_json& m = c.messages[i];
    const std::string at = absl::StrCat(where, ": messages[", i, "]");
    if (!m.is_object()) return absl::InvalidArgumentError(absl::StrCat(at, ": not an object"));
    if (!m.contains("role") || !m["role"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(at, ": no string field 'role'"));
    }
    const std::string role = m["role"].get<std::string>();
    if (std::find(ChatRoles().begin(), ChatRoles().end(), role) == ChatRoles().end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          at, ": role '", role, "' is not one of GLM-4's (", absl::StrJoin(ChatRoles(), ", "),
          role == "tool" ? "; a tool result is an 'observation'" : "", ")"));
    }
    if (!m.contains("content")) {
      return absl::InvalidArgumentError(absl::StrCat(at, ": no field 'content'"));
    }
  }
  if (!c.tools.is_null() && !c.tools.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": tools must be a list"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Conversation> ParseConversation(absl::string_view json, absl::string_view where) {
  Conversation c;
  nlohmann::ordered_json root;
  try {
    root = nlohmann::ordered_json::parse(json.begin(), json.end());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not JSON: ", e.what()));
  }
  if (root.is_object()) {
    if (!root.contains("messages")) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": an object needs a 'messages' list (or give the list itself)"));
    }
    c.messages = root["messages"];
    if (root.contains("tools")) c.tools = root["tools"];
  } else {
    c.messages = std::move(root);
  }
  GLMQ_RETURN_IF_ERROR(ValidateConversation(c, where));
  return c;
}

absl::StatusOr<ChatTemplate> ChatTemplate::Create(
    const std::string& source, std::vector<std::pair<std::string, std::string>> variables) {
  ChatTemplate t;
  t.is_default_ = source.empty();
  absl::StatusOr<jinja::Template> parsed =
      jinja::Template::Parse(t.is_default_ ? kDefaultGlm4ChatTemplate : source);
  if (!parsed.ok()) return parsed.status();
  t.template_ = *std::move(parsed);
  for (auto& [name, value] : variables) {
    t.variables_.emplace_back(name, jinja::Value::String(value, /*trusted=*/true));
  }
  return t;
}

absl::StatusOr<jinja::MarkedText> ChatTemplate::Render(const Conversation& c,
                                                       bool add_generation_prompt) const {
  GLMQ_RETURN_IF_ERROR(ValidateConversation(c, "conversation"));
  jinja::List messages;
  for (const nlohmann::ordered_json& m : c.messages) {
    jinja::Value v = jinja::Value::FromJson(m, /*trusted=*/false);
    // A known role is the template's own vocabulary: "<|" + role + "|>" is a special token.
    v.dict().Set("role", jinja::Value::String(m["role"].get<std::string>(), /*trusted=*/true));
    messages.push_back(std::move(v));
  }
  std::vector<std::pair<std::string, jinja::Value>> vars = variables_;
  vars.emplace_back("messages", jinja::Value::MakeList(std::move(messages)));
  vars.emplace_back(
      "tools", c.tools.is_null() ? jinja::Value::None() : jinja::Value::FromJson(c.tools, false));
  vars.emplace_back("add_generation_prompt", jinja::Value::Bool(add_generation_prompt));
  return template_.Render(vars);
}

}  // namespace glmq
