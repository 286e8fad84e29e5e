// Untrusted chat templates (tokenizer_config.json of a downloaded model):
// each must end in an error naming the problem, quickly, never a stack
// overflow, a SIGFPE, signed overflow, a runaway allocation or a hang.
#include <chrono>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/tokenizer/jinja.h"

namespace glmq::jinja {
namespace {

using ::testing::HasSubstr;

absl::Status Render(const std::string& tpl) {
  auto t = Template::Parse(tpl);
  if (!t.ok()) return t.status();
  return t->Render({{"messages", Value::MakeList({})}}).status();
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

struct Case {
  const char* name;
  std::string tpl;
  const char* error;
};

TEST(JinjaMalformed, RefusedCleanlyAndQuickly) {
  const Case cases[] = {
      {"parentheses 1,000 deep", "{{ " + Repeat("(", 1000) + "1" + Repeat(")", 1000) + " }}",
       "nested over 64"},
      {"lists 1,000 deep", "{{ " + Repeat("[", 1000) + Repeat("]", 1000) + " }}", "nested over 64"},
      {"not chain", "{{ " + Repeat("not ", 1000) + "1 }}", "nested over 64"},
      {"unary minus chain", "{{ " + Repeat("- ", 1000) + "1 }}", "nested over 64"},
      {"parentheses 100,000 deep", "{{ " + Repeat("(", 100000) + "1" + Repeat(")", 100000) + " }}",
       "over 4096 tokens"},
      {"left-deep sum", "{{ 1" + Repeat(" + 1", 1000) + " }}", "over 256 levels"},
      {"filter chain", "{{ 'a'" + Repeat(" | upper", 1000) + " }}", "over 256 levels"},
      {"tag of 200,000 tokens", "{{ [" + Repeat("1,", 100000) + "] }}", "over 4096 tokens"},
      {"if blocks 10,000 deep", Repeat("{% if 1 %}", 10000) + Repeat("{% endif %}", 10000),
       "nested over 64"},
      {"nested loops",
       "{% for a in range(999999) %}{% for b in range(999999) %}{% endfor %}"
       "{% endfor %}",
       "steps"},
      {"int64 overflow +", "{{ 9223372036854775807 + 1 }}", "integer overflow"},
      {"int64 overflow *", "{{ 4611686018427387904 * 4 }}", "integer overflow"},
      {"int64 overflow **", "{{ 3 ** 50 }}", "integer overflow"},
      {"-1 ** 2**62 (a loop of 2**62 steps)", "{{ (-1) ** 4611686018427387904 }}XX{{ 1/0 }}",
       "division by zero"},
      {"min // -1 (SIGFPE)", "{{ (-9223372036854775807 - 1) // -1 }}", "integer overflow"},
      {"min % -1 (SIGFPE)", "{{ (-9223372036854775807 - 1) % -1 }}", "integer overflow"},
      {"unary - of min", "{{ -(-9223372036854775807 - 1) }}", "integer overflow"},
      {"int of a 54-digit string (UBSan float-to-int overflow; found by the libFuzzer run)",
       "{{ '" + Repeat("1", 53) + "2'|int + 1 }}", "outside the 64-bit integer range"},
      {"int of 1e300", "{{ 1e300|int }}", "outside the 64-bit integer range"},
      {"int of nan", "{{ 'nan'|int }}", "outside the 64-bit integer range"},
      {"string repeat", "{{ 'abcdefgh' * 100000000 }}", "64 MiB"},
      {"string doubling",
       "{% set ns = namespace(s='0123456789abcdef') %}{% for i in range(40) %}"
       "{% set ns.s = ns.s + ns.s %}{% endfor %}",
       "64 MiB"},
      {"string doubling ~",
       "{% set ns = namespace(s='0123456789abcdef') %}{% for i in range(40) %}"
       "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
       "64 MiB"},
      {"namespace holding itself (stack overflow in AllTrusted; found by fuzz_smoke replay)",
       "{% set ns = namespace(n=0, s='') %}{% for i in [1,2,3] %}{% set ns.n = ns%}{% endfor %}"
       "{{ ns.n }}",
       "cannot hold the namespace itself"},
      {"namespace cycle through a list and a second namespace",
       "{% set a = namespace(x=0) %}{% set b = namespace(y=[a]) %}{% set a.x = [1, b] %}{{ a }}",
       "cannot hold the namespace itself"},
      {"nesting a value one level per iteration",
       "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}"
       "{% endfor %}{{ ns.x }}",
       "nested over 64 deep"},
      {"list doubling",
       "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}"
       "{% endfor %}",
       "items"},
  };
  for (const Case& c : cases) {
    const auto t0 = std::chrono::steady_clock::now();
    const absl::Status s = Render(c.tpl);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.error)) << c.name;
    EXPECT_LT(secs, 20.0) << c.name;
  }
}

TEST(JinjaMalformed, LimitsLeaveRealTemplatesAlone) {
  // Nesting and arithmetic well inside the limits still render.
  auto t = Template::Parse("{{ ((((1 + 2) * 3) - 4) // 2) }}{{ 2 ** 62 }}{{ -9223372036854775807 }}"
                           "{{ [[[[1]]]] | length }}{{ 'ab' * 3 }}");
  ASSERT_TRUE(t.ok()) << t.status();
  auto r = t->Render({});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "24611686018427387904-92233720368547758071ababab");
}

}  // namespace
}  // namespace glmq::jinja
