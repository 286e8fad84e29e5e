// Statements of glmq's Jinja subset: if / elif / else, for (with an "if"
// filter, else, break, continue), set (also ns.attr and block form), macro,
// generation; anything else is an error naming the tag and its line.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "runtime/tokenizer/jinja_ast.h"
#include "runtime/tokenizer/jinja_lex.h"
#include "runtime/tokenizer/jinja_parse.h"

namespace glmq::jinja {
namespace {

constexpr absl::string_view kSupportedTags =
    "if/elif/else, for/else, set, macro, break, continue, raw, generation";

class StatementParser {
 public:
  explicit StatementParser(std::vector<Piece> pieces) : pieces_(std::move(pieces)) {}

  // Parses nodes until one of `ends` (a block tag's first word) or the end
  // of the template. `*end` gets the word that stopped it ("" at the end)
  // and `*rest` the parser positioned after that word.
  absl::Status ParseBody(const std::vector<absl::string_view>& ends, Body* body, std::string* end,
                         std::unique_ptr<ExprParser>* rest);

 private:
  std::unique_ptr<Node> MakeNode(Node::Kind kind, int line) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->line = line;
    return n;
  }
  // Parses until one of `ends`; error if the template ends first.
  absl::Status Expect(const std::vector<absl::string_view>& ends, absl::string_view opener,
                      int line, Body* body, std::string* end, std::unique_ptr<ExprParser>* rest);
  absl::StatusOr<std::unique_ptr<Node>> If(ExprParser& p, int line);
  absl::StatusOr<std::unique_ptr<Node>> For(ExprParser& p, int line);
  absl::StatusOr<std::unique_ptr<Node>> Set(ExprParser& p, int line);
  absl::StatusOr<std::unique_ptr<Node>> Macro(ExprParser& p, int line);
  absl::StatusOr<std::unique_ptr<Node>> Block(const Piece& piece);

  std::vector<Piece> pieces_;
  size_t next_ = 0;
  int loop_depth_ = 0;   // for bodies being parsed (break / continue need one)
  int block_depth_ = 0;  // blocks being parsed (parser and renderer recurse on them)
};

// Blocks (if, for, macro, set, generation) nested in one another: chat
// templates nest < 6; the bound keeps the recursion off the stack's end.
constexpr int kMaxBlockDepth = 64;

absl::Status StatementParser::Expect(const std::vector<absl::string_view>& ends,
                                     absl::string_view opener, int line, Body* body,
                                     std::string* end, std::unique_ptr<ExprParser>* rest) {
  if (block_depth_ >= kMaxBlockDepth) {
    return SyntaxError(line, absl::StrCat("blocks nested over ", kMaxBlockDepth, " deep"));
  }
  ++block_depth_;
  const absl::Status parsed = ParseBody(ends, body, end, rest);
  --block_depth_;
  GLMQ_RETURN_IF_ERROR(parsed);
  if (end->empty()) {
    return SyntaxError(
        line, absl::StrCat("'", opener, "' without {% ", absl::StrJoin(ends, " / "), " %}"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Node>> StatementParser::If(ExprParser& p, int line) {
  std::unique_ptr<Node> n = MakeNode(Node::Kind::kIf, line);
  GLMQ_ASSIGN_OR_RETURN(ExprPtr cond, p.Tuple());
  GLMQ_RETURN_IF_ERROR(p.ExpectEnd());
  n->conditions.push_back(std::move(cond));
  while (true) {
    Body body;
    std::string end;
    std::unique_ptr<ExprParser> rest;
    GLMQ_RETURN_IF_ERROR(Expect({"elif", "else", "endif"}, "if", line, &body, &end, &rest));
    n->bodies.push_back(std::move(body));
    if (end == "endif") {
      GLMQ_RETURN_IF_ERROR(rest->ExpectEnd());
      return n;
    }
    if (end == "else") {
      GLMQ_RETURN_IF_ERROR(rest->ExpectEnd());
      Body other;
      GLMQ_RETURN_IF_ERROR(Expect({"endif"}, "else", line, &other, &end, &rest));
      GLMQ_RETURN_IF_ERROR(rest->ExpectEnd());
      n->bodies.push_back(std::move(other));
      return n;
    }
    GLMQ_ASSIGN_OR_RETURN(ExprPtr c, rest->Tuple());
    GLMQ_RETURN_IF_ERROR(rest->ExpectEnd());
    n->conditions.push_back(std::move(c));
  }
}

absl::StatusOr<std::unique_ptr<Node>> StatementParser::For(ExprParser& p, int line) {
  std::unique_ptr<Node> n = MakeNode(Node::Kind::kFor, line);
  const bool paren = p.TakeOp("(");
  do {
    GLMQ_ASSIGN_OR_RETURN(std::string t, p.ExpectName());
    n->targets.push_back(std::move(t));
  } while (p.TakeOp(","));
  if (paren) GLMQ_RETURN_IF_ERROR(p.ExpectOp(")"));
  if (!p.TakeName("in")) return p.Error("expected 'in'");
  GLMQ_ASSIGN_OR_RETURN(n->expr, p.Tuple(/*condexpr=*/false));
  if (p.TakeName("if")) {
    GLMQ_ASSIGN_OR_RETURN(n->filter, p.Expression(false));
  }
  if (p.IsName("recursive")) return p.Error("recursive loops are not supported");
  GLMQ_RETURN_IF_ERROR(p.ExpectEnd());
  Body body;
  std::string end;
  std::unique_ptr<ExprParser> rest;
  ++loop_depth_;
  absl::Status parsed = Expect({"else", "endfor"}, "for", line, &body, &end, &rest);
  --loop_depth_;
  GLMQ_RETURN_IF_ERROR(parsed);
  GLMQ_RETURN_IF_ERROR(rest->ExpectEnd());
  n->bodies.push_back(std::move(body));
  n->bodies.emplace_back();
  if (end == "else") {
    GLMQ_RETURN_IF_ERROR(Expect({"endfor"}, "for", line, &n->bodies[1], &end, &rest));
    GLMQ_RETURN_IF_ERROR(rest->ExpectEnd());
  }
  return n;
}

absl::StatusOr<std::unique_ptr<Node>> StatementParser::Set(ExprParser& p, int line) {
  std::unique_ptr<Node> n = MakeNode(Node::Kind::kSet, line);
  GLMQ_ASSIGN_OR_RETURN(std::string target, p.ExpectName());
  n->targets.push_back(std::move(target));
  if (p.TakeOp(".")) {
    GLMQ_ASSIGN_OR_RETURN(n->text, p.ExpectName());
  } else {
    while (p.TakeOp(",")) {
      GLMQ_ASSIGN_OR_RETURN(std::string t, p.ExpectName());
      n->targets.push_back(std::move(t));
    }
  }
  if (p.AtEnd() && n->targets.size() == 1 && n->text.empty()) {  // {% set x %}...{% endset %}
    n->kind = Node::Kind::kSetBlock;
    n->bodies.emplace_back();
    std::string end;
    std::unique_ptr<ExprParser> rest;
    GLMQ_RETURN_IF_ERROR(Expect({"endset"}, "set", line, &n->bodies[0], &end, &rest));
    GLMQ_RETURN_IF_ERROR(rest->ExpectEnd());
    return n;
  }
  GLMQ_RETURN_IF_ERROR(p.ExpectOp("="));
  GLMQ_ASSIGN_OR_RETURN(n->expr, p.Tuple());
  GLMQ_RETURN_IF_ERROR(p.ExpectEnd());
  return n;
}

absl::StatusOr<std::unique_ptr<Node>> StatementParser::Macro(ExprParser& p, int line) {
  std::unique_ptr<Node> n = MakeNode(Node::Kind::kMacro, line);
  const int outer_loops = loop_depth_;
  loop_depth_ = 0;  // a macro body is not inside the caller's loop
  GLMQ_ASSIGN_OR_RETURN(n->text, p.ExpectName());
  GLMQ_RETURN_IF_ERROR(p.ExpectOp("("));
  while (!p.TakeOp(")")) {
    if (!n->targets.empty()) GLMQ_RETURN_IF_ERROR(p.ExpectOp(","));
    GLMQ_ASSIGN_OR_RETURN(std::string param, p.ExpectName());
    n->targets.push_back(std::move(param));
    n->defaults.emplace_back();
    if (p.TakeOp("=")) {
      GLMQ_ASSIGN_OR_RETURN(n->defaults.back(), p.Expression());
    }
  }
  GLMQ_RETURN_IF_ERROR(p.ExpectEnd());
  n->bodies.emplace_back();
  std::string end;
  std::unique_ptr<ExprParser> rest;
  absl::Status parsed = Expect({"endmacro"}, "macro", line, &n->bodies[0], &end, &rest);
  loop_depth_ = outer_loops;
  GLMQ_RETURN_IF_ERROR(parsed);
  GLMQ_RETURN_IF_ERROR(rest->ExpectEnd());
  return n;
}

absl::StatusOr<std::unique_ptr<Node>> StatementParser::Block(const Piece& piece) {
  GLMQ_ASSIGN_OR_RETURN(std::vector<Token> tokens, TokenizeExpression(piece.content, piece.line));
  ExprParser p(std::move(tokens));
  GLMQ_ASSIGN_OR_RETURN(std::string word, p.ExpectName());
  if (word == "if") return If(p, piece.line);
  if (word == "for") return For(p, piece.line);
  if (word == "set") return Set(p, piece.line);
  if (word == "macro") return Macro(p, piece.line);
  if (word == "break" || word == "continue") {
    GLMQ_RETURN_IF_ERROR(p.ExpectEnd());
    if (loop_depth_ == 0)
      return SyntaxError(piece.line, absl::StrCat("'", word, "' outside a loop"));
    return MakeNode(word == "break" ? Node::Kind::kBreak : Node::Kind::kContinue, piece.line);
  }
  if (word == "generation") {
    GLMQ_RETURN_IF_ERROR(p.ExpectEnd());
    std::unique_ptr<Node> n = MakeNode(Node::Kind::kGeneration, piece.line);
    n->bodies.emplace_back();
    std::string end;
    std::unique_ptr<ExprParser> rest;
    GLMQ_RETURN_IF_ERROR(
        Expect({"endgeneration"}, "generation", piece.line, &n->bodies[0], &end, &rest));
    return n;
  }
  return SyntaxError(piece.line, absl::StrCat("unsupported tag '", word,
                                              "' (glmq's Jinja subset has ", kSupportedTags, ")"));
}

absl::Status StatementParser::ParseBody(const std::vector<absl::string_view>& ends, Body* body,
                                        std::string* end, std::unique_ptr<ExprParser>* rest) {
  end->clear();
  while (next_ < pieces_.size()) {
    const Piece& piece = pieces_[next_++];
    if (piece.kind == Piece::Kind::kText) {
      auto n = MakeNode(Node::Kind::kText, piece.line);
      n->text = piece.content;
      body->push_back(std::move(n));
      continue;
    }
    GLMQ_ASSIGN_OR_RETURN(std::vector<Token> tokens, TokenizeExpression(piece.content, piece.line));
    if (piece.kind == Piece::Kind::kOutput) {
      auto n = MakeNode(Node::Kind::kOutput, piece.line);
      ExprParser p(std::move(tokens));
      GLMQ_ASSIGN_OR_RETURN(n->expr, p.Tuple());
      GLMQ_RETURN_IF_ERROR(p.ExpectEnd());
      body->push_back(std::move(n));
      continue;
    }
    if (tokens[0].kind == Token::Kind::kName) {
      for (absl::string_view e : ends) {
        if (tokens[0].text != e) continue;
        *end = tokens[0].text;
        *rest = std::make_unique<ExprParser>(std::move(tokens));
        (*rest)->TakeName(e);
        return absl::OkStatus();
      }
      const std::string& w = tokens[0].text;
      if (w == "endif" || w == "endfor" || w == "elif" || w == "else" || w == "endset" ||
          w == "endmacro" || w == "endgeneration") {
        return SyntaxError(piece.line, absl::StrCat("unexpected {% ", w, " %}"));
      }
    }
    GLMQ_ASSIGN_OR_RETURN(std::unique_ptr<Node> n, Block(piece));
    body->push_back(std::move(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Body> ParseTemplate(absl::string_view source) {
  GLMQ_ASSIGN_OR_RETURN(std::vector<Piece> pieces, SplitTemplate(source));
  StatementParser parser(std::move(pieces));
  Body body;
  std::string end;
  std::unique_ptr<ExprParser> rest;
  GLMQ_RETURN_IF_ERROR(parser.ParseBody({}, &body, &end, &rest));
  return body;
}

}  // namespace glmq::jinja
