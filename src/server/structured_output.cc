#include "server/structured_output.h"

#include <algorithm>
#include <string>

#include "infer/json_schema_grammar.h"

namespace gorae::server {

std::shared_ptr<const GrammarVocab> GrammarVocabOf(const tokenizer::Tokenizer& tok, int64_t model_vocab,
                                                   const std::vector<int>& end_ids) {
  std::vector<std::string> bytes(static_cast<size_t>(model_vocab));
  std::vector<GrammarVocab::Kind> kinds(static_cast<size_t>(model_vocab), GrammarVocab::Kind::kNever);
  for (int32_t id = 0; id < model_vocab; ++id) {
    if (std::find(end_ids.begin(), end_ids.end(), id) != end_ids.end()) {
      kinds[static_cast<size_t>(id)] = GrammarVocab::Kind::kEnd;
      continue;
    }
    if (!tok.IsValidId(id) || tok.IsSpecial(id)) continue;
    auto b = tok.TokenBytes(id);
    if (!b.ok() || b->empty()) continue;
    bytes[static_cast<size_t>(id)] = std::string(*b);
    kinds[static_cast<size_t>(id)] = GrammarVocab::Kind::kText;
  }
  return std::make_shared<GrammarVocab>(std::move(bytes), std::move(kinds));
}

namespace {

// Text that does not contain "</think>", then "</think>", some whitespace, and the answer's
// root. Right-linear rules over the states of matching "</think>" (q1: "<" seen, q2: "</", ...):
// each character either continues the match or falls back, so the reasoning can hold "<" and
// partial matches but never the closing tag itself before the one that ends it.
std::string ReasoningPrefix(const std::string& answer_root) {
  const std::string close = "</think>";
  std::string g;
  auto state = [](size_t k) { return "gorae-think-q" + std::to_string(k); };
  for (size_t k = 0; k < close.size(); ++k) {
    // In state k (k characters of "</think>" matched): the next one, '<', or anything else.
    std::string line = state(k) + " ::= ";
    const char want = close[k];
    auto cls = [](std::string chars) {
      std::string out = "[^";
      for (char c : chars) out += c == '/' ? std::string("/") : std::string(1, c);
      return out + "]";
    };
    if (k + 1 < close.size()) line += "\"" + std::string(1, want) + "\" " + state(k + 1) + " | ";
    if (k > 0) line += "\"<\" " + state(1) + " | ";
    line += (k == 0 ? cls("<") : cls(std::string(1, want) + "<")) + " " + state(0) + " | ";
    line += "\"\"";  // the reasoning may stop here (the closing tag follows)
    g += line + "\n";
  }
  g += "gorae-think-root ::= " + state(0) + " \"</think>\" [ \\n]{0,4} " + answer_root + "\n";
  return g;
}

}  // namespace

Result<std::shared_ptr<const GrammarConstraint>> ConstraintFor(const OutputFormat& format, bool after_reasoning,
                                                               std::shared_ptr<const GrammarVocab> vocab) {
  std::string gbnf;
  switch (format.kind) {
    case OutputFormat::Kind::kText: return std::shared_ptr<const GrammarConstraint>();
    case OutputFormat::Kind::kJsonObject: gbnf = AnyJsonObjectGbnf(); break;
    case OutputFormat::Kind::kGrammar: gbnf = format.gbnf; break;
    case OutputFormat::Kind::kJsonSchema: {
      auto compiled = format.ordered_schema.is_null() ? JsonSchemaToGbnf(format.schema)
                                                      : JsonSchemaToGbnf(format.ordered_schema);
      if (!compiled.ok()) return compiled.status().WithContext(format.field);
      gbnf = std::move(*compiled);
      break;
    }
  }
  std::string root = "root";
  if (after_reasoning) {
    gbnf += "\n" + ReasoningPrefix("root");
    root = "gorae-think-root";
  }
  auto grammar = Grammar::Parse(gbnf, root);
  if (!grammar.ok()) return grammar.status().WithContext(format.field);
  return std::make_shared<const GrammarConstraint>(*grammar, std::move(vocab));
}

}  // namespace gorae::server
