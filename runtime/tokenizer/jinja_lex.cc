#include "runtime/tokenizer/jinja_lex.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace glmq::jinja {

absl::Status SyntaxError(int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("chat template line ", line, ": ", what));
}

namespace {

int CountLines(absl::string_view s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

std::string NormalizeNewlines(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else {
      out.push_back(in[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

// Position of the tag end `close` ("}}" or "%}") from `pos`, skipping string
// literals; npos if none.
size_t FindTagEnd(absl::string_view s, size_t pos, absl::string_view close) {
  char quote = 0;
  for (size_t i = pos; i < s.size(); ++i) {
    const char c = s[i];
    if (quote != 0) {
      if (c == '\\')
        ++i;
      else if (c == quote)
        quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (s.substr(i, close.size()) == close) {
      return i;
    }
  }
  return absl::string_view::npos;
}

struct Tag {
  Piece::Kind kind;  // kText for a comment
  bool comment = false;
  char left = 0, right = 0;  // '-', '+' or 0
  std::string content;
  size_t end;  // just past the closing delimiter
};

absl::StatusOr<Tag> ReadTag(absl::string_view s, size_t start, int line) {
  Tag t;
  const char open = s[start + 1];
  t.comment = open == '#';
  t.kind = open == '{' ? Piece::Kind::kOutput : Piece::Kind::kBlock;
  const absl::string_view close = open == '{' ? "}}" : open == '%' ? "%}" : "#}";
  size_t inner = start + 2;
  if (inner < s.size() && (s[inner] == '-' || s[inner] == '+')) t.left = s[inner++];
  const size_t stop = t.comment ? s.find(close, inner) : FindTagEnd(s, inner, close);
  if (stop == absl::string_view::npos) {
    if (s.find(close, inner) != absl::string_view::npos) {
      return SyntaxError(line, "unterminated string literal");
    }
    return SyntaxError(line,
                       absl::StrCat("unclosed '", s.substr(start, 2), "' (no '", close, "')"));
  }
  size_t inner_end = stop;
  if (inner_end > inner && (s[inner_end - 1] == '-' || s[inner_end - 1] == '+')) {
    t.right = s[--inner_end];
  }
  t.content = std::string(s.substr(inner, inner_end - inner));
  t.end = stop + close.size();
  return t;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f'; }

// lstrip_blocks: drop the spaces between the last line start and the tag.
void LstripBlock(std::string* text, bool line_starting) {
  const size_t nl = text->rfind('\n');
  const size_t from = nl == std::string::npos ? 0 : nl + 1;
  if (nl == std::string::npos && !line_starting) return;
  if (std::all_of(text->begin() + from, text->end(), IsSpace)) text->resize(from);
}

}  // namespace

absl::StatusOr<std::vector<Piece>> SplitTemplate(absl::string_view source) {
  const std::string src = NormalizeNewlines(source);
  const absl::string_view s = src;
  std::vector<Piece> pieces;
  size_t pos = 0;
  int line = 1;
  bool line_starting = true;  // the text being read starts a line
  bool strip_next = false;    // a "-" mark: the next text loses its leading whitespace
  while (true) {
    size_t start = pos;
    while ((start = s.find('{', start)) != absl::string_view::npos &&
           (start + 1 >= s.size() ||
            (s[start + 1] != '{' && s[start + 1] != '%' && s[start + 1] != '#'))) {
      ++start;
    }
    std::string text(s.substr(pos, (start == absl::string_view::npos ? s.size() : start) - pos));
    const int text_line = line;
    line += CountLines(text);
    if (strip_next) {
      const size_t keep = std::find_if_not(text.begin(), text.end(), IsSpace) - text.begin();
      text.erase(0, keep);
    }
    if (start == absl::string_view::npos) {
      if (!text.empty()) pieces.push_back({Piece::Kind::kText, text, text_line});
      break;
    }
    absl::StatusOr<Tag> tag = ReadTag(s, start, line);
    if (!tag.ok()) return tag.status();
    const bool block_like = tag->comment || tag->kind == Piece::Kind::kBlock;
    if (tag->left == '-') {
      while (!text.empty() && IsSpace(text.back())) text.pop_back();
    } else if (block_like && tag->left != '+') {
      LstripBlock(&text, line_starting);
    }
    if (!text.empty()) pieces.push_back({Piece::Kind::kText, text, text_line});
    const int tag_line = line;
    line += CountLines(s.substr(start, tag->end - start));
    pos = tag->end;
    const std::string word(absl::StripAsciiWhitespace(tag->content));
    if (!tag->comment && tag->kind == Piece::Kind::kBlock && word == "raw") {
      // Everything up to {% endraw %} is text.
      size_t end = pos, close = absl::string_view::npos;
      while ((end = s.find("{%", end)) != absl::string_view::npos) {
        absl::StatusOr<Tag> t = ReadTag(s, end, line);
        if (t.ok() && absl::StripAsciiWhitespace(t->content) == "endraw") {
          close = t->end;
          break;
        }
        end += 2;
      }
      if (close == absl::string_view::npos)
        return SyntaxError(tag_line, "{% raw %} without {% endraw %}");
      pieces.push_back({Piece::Kind::kText, std::string(s.substr(pos, end - pos)), line});
      line += CountLines(s.substr(pos, close - pos));
      pos = close;
    } else if (!tag->comment) {
      pieces.push_back({tag->kind, tag->content, tag_line});
    }
    strip_next = tag->right == '-';
    if (!strip_next && block_like && tag->right != '+' && pos < s.size() && s[pos] == '\n') {
      ++pos;  // trim_blocks
      ++line;
      line_starting = true;
    } else {
      line_starting = pos > 0 && s[pos - 1] == '\n';
    }
  }
  return pieces;
}

// ---- expression tokens -------------------------------------------------------

namespace {

absl::StatusOr<std::string> StringLiteral(absl::string_view s, size_t* pos, int line) {
  const char quote = s[*pos];
  std::string out;
  size_t i = *pos + 1;
  for (; i < s.size() && s[i] != quote; ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char e = s[++i];
    switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case '0':
        out.push_back('\0');
        break;
      case '\\':
      case '\'':
      case '"':
        out.push_back(e);
        break;
      case 'u':
      case 'x': {
        const size_t n = e == 'u' ? 4 : 2;
        if (i + n >= s.size()) return SyntaxError(line, "bad escape in a string literal");
        const uint32_t cp = std::strtoul(std::string(s.substr(i + 1, n)).c_str(), nullptr, 16);
        i += n;
        if (cp < 0x80) {
          out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
          out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
          out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        break;
      }
      default:
        out.push_back('\\');
        out.push_back(e);  // Python keeps unknown escapes
    }
  }
  if (i >= s.size()) return SyntaxError(line, "unterminated string literal");
  *pos = i + 1;
  return out;
}

constexpr absl::string_view kOps[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*",
                                      "/",  "%",  "~",  "<",  ">",  "=",  "(", ")", "[",
                                      "]",  "{",  "}",  ",",  ".",  ":",  "|"};

}  // namespace

absl::StatusOr<std::vector<Token>> TokenizeExpression(absl::string_view s, int line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\n') ++line;
    if (IsSpace(c) || c == '\r') {
      ++i;
      continue;
    }
    Token t;
    t.line = line;
    if (absl::ascii_isalpha(c) || c == '_') {
      size_t j = i;
      while (j < s.size() && (absl::ascii_isalnum(s[j]) || s[j] == '_')) ++j;
      t.kind = Token::Kind::kName;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else if (absl::ascii_isdigit(c)) {
      size_t j = i;
      while (j < s.size() && (absl::ascii_isdigit(s[j]) || s[j] == '_')) ++j;
      bool is_float = false;
      if (j + 1 < s.size() && s[j] == '.' && absl::ascii_isdigit(s[j + 1])) {
        is_float = true;
        for (++j; j < s.size() && absl::ascii_isdigit(s[j]); ++j) {
        }
      }
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        is_float = true;
        ++j;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        while (j < s.size() && absl::ascii_isdigit(s[j])) ++j;
      }
      std::string num(s.substr(i, j - i));
      num.erase(std::remove(num.begin(), num.end(), '_'), num.end());
      t.kind = is_float ? Token::Kind::kFloat : Token::Kind::kInt;
      t.text = num;
      if (is_float)
        t.float_value = std::strtod(num.c_str(), nullptr);
      else
        t.int_value = std::strtoll(num.c_str(), nullptr, 10);
      i = j;
    } else if (c == '\'' || c == '"') {
      absl::StatusOr<std::string> str = StringLiteral(s, &i, line);
      if (!str.ok()) return str.status();
      t.kind = Token::Kind::kString;
      t.text = *std::move(str);
    } else {
      t.kind = Token::Kind::kOp;
      for (absl::string_view op : kOps) {
        if (s.substr(i, op.size()) == op) {
          t.text = std::string(op);
          break;
        }
      }
      if (t.text.empty()) {
        return SyntaxError(line, absl::StrCat("unexpected character '", std::string(1, c), "'"));
      }
      i += t.text.size();
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.kind = Token::Kind::kEnd;
  end.line = line;
  out.push_back(end);
  return out;
}

}  // namespace glmq::jinja
