// glmq's Jinja subset against Jinja2 itself (testdata/chat/jinja_cases.json,
// rendered by scripts/gen_jinja_cases.py with transformers' settings), plus
// errors for what the subset does not do, and the trust marks.
#include "runtime/tokenizer/jinja.h"

#include <string>

#include "core/file.h"
#include "gtest/gtest.h"

namespace glmq::jinja {
namespace {

using Vars = std::vector<std::pair<std::string, Value>>;

absl::StatusOr<std::string> RenderText(const std::string& tpl, const Vars& vars = {}) {
  auto t = Template::Parse(tpl);
  if (!t.ok()) return t.status();
  auto r = t->Render(vars);
  if (!r.ok()) return r.status();
  return r->text;
}

TEST(Jinja, MatchesJinja2OnTheReferenceCases) {
  auto text = ReadFileToString(std::string(GLMQ_SOURCE_DIR) + "/testdata/chat/jinja_cases.json");
  ASSERT_TRUE(text.ok()) << text.status();
  const nlohmann::ordered_json cases = nlohmann::ordered_json::parse(*text);
  ASSERT_GE(cases.size(), 20u);
  for (const auto& c : cases) {
    Vars vars;
    for (auto it = c["vars"].begin(); it != c["vars"].end(); ++it) {
      vars.emplace_back(it.key(), Value::FromJson(it.value(), /*trusted=*/true));
    }
    auto got = RenderText(c["template"].get<std::string>(), vars);
    ASSERT_TRUE(got.ok()) << c["name"] << ": " << got.status();
    EXPECT_EQ(*got, c["expected"].get<std::string>()) << c["name"];
  }
}

TEST(Jinja, FloatReprAsPython) {
  EXPECT_EQ(FloatRepr(1.0), "1.0");
  EXPECT_EQ(FloatRepr(0.1), "0.1");
  EXPECT_EQ(FloatRepr(1e16), "1e+16");
  EXPECT_EQ(FloatRepr(1.5e300), "1.5e+300");
  EXPECT_EQ(FloatRepr(1e-5), "1e-05");
  EXPECT_EQ(FloatRepr(0.0001), "0.0001");
  EXPECT_EQ(FloatRepr(-0.0), "-0.0");
  EXPECT_EQ(FloatRepr(123456789012345.6), "123456789012345.6");
}

TEST(Jinja, UnsupportedConstructsNameTheLine) {
  struct Case {
    const char* tpl;
    const char* want;
  } cases[] = {
      {"a\n{% include 'x' %}", "chat template line 2: unsupported tag 'include'"},
      {"{{ x | wordwrap }}", "unsupported filter 'wordwrap'"},
      {"{{ x is foo }}", "unsupported test 'foo'"},
      {"{{ 'a'.format(1) }}", "unsupported string method 'format'"},
      {"{% if x %}", "'if' without {% elif / else / endif %}"},
      {"{% endfor %}", "unexpected {% endfor %}"},
      {"{{ x }", "unclosed '{{'"},
      {"{{ 'abc }}", "unterminated string literal"},
      {"{% break %}", "'break' outside a loop"},
      {"{{ 1 < 2 < 3 }}", "chained comparisons"},
      {"{{ '%s' % 1 }}", "printf-style"},
      {"{{ raise_exception('no tools') }}", "the template raised an error: no tools"},
      {"{{ x.y }}", "'x' is undefined"},
      {"{% set x = 1 %}{% set x.a = 2 %}", "only a namespace()"},
      {"{% for a, b in [1] %}{% endfor %}", "cannot unpack"},
      {"{{ 1 + 'a' }}", "unsupported operand types for +"},
  };
  for (const Case& c : cases) {
    auto r = RenderText(c.tpl);
    ASSERT_FALSE(r.ok()) << c.tpl;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos)
        << c.tpl << " -> " << r.status().message();
  }
}

TEST(Jinja, UntrustedBytesKeepTheirMarks) {
  auto t = Template::Parse(
      "<|{{ role }}|>{{ content }}|{{ content.strip()[0:3] }}|{{ content | upper }}|{{ d | tojson "
      "}}"
      "|{{ 'lit' }}");
  ASSERT_TRUE(t.ok()) << t.status();
  auto r = t->Render({{"role", Value::String("user")},
                      {"content", Value::String(" <|x|> ", /*trusted=*/false)},
                      {"d", Value::FromJson(nlohmann::ordered_json{{"k", 1}}, false)}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "<|user|> <|x|> |<|x| <|X|> |{\"k\": 1}|lit");
  const size_t content = r->text.find(" <|x|> ");
  EXPECT_TRUE(r->Trusted(0, content));
  EXPECT_FALSE(r->Trusted(content, content + 1));
  EXPECT_FALSE(r->Trusted(r->text.find("<|x|"), r->text.find("<|x|") + 1));
  EXPECT_FALSE(r->Trusted(r->text.find("<|X|>"), r->text.find("<|X|>") + 1));
  EXPECT_FALSE(r->Trusted(r->text.find("{\"k\""), r->text.find("{\"k\"") + 1));  // data keys
  EXPECT_TRUE(r->Trusted(r->text.rfind("lit"), r->text.size()));
}

TEST(Jinja, MarkedTextSubAndAppend) {
  MarkedText t;
  t.Append("ab", true);
  t.Append("cd", false);
  t.Append("ef", false);
  t.Append("gh", true);
  ASSERT_EQ(t.untrusted.size(), 1u);
  EXPECT_EQ(t.untrusted[0].begin, 2u);
  EXPECT_EQ(t.untrusted[0].end, 6u);
  const MarkedText s = t.Sub(3, 7);
  EXPECT_EQ(s.text, "defg");
  ASSERT_EQ(s.untrusted.size(), 1u);
  EXPECT_EQ(s.untrusted[0].begin, 0u);
  EXPECT_EQ(s.untrusted[0].end, 3u);
  EXPECT_TRUE(s.Trusted(3, 4));
  EXPECT_FALSE(s.Trusted(2, 4));
}

}  // namespace
}  // namespace glmq::jinja
