// Structured outputs: the grammar of a request's output format (server/api_request.h
// OutputFormat: json_object, json_schema, GBNF) over the served tokenizer's vocabulary, as the
// constraint the engine samples under (infer/grammar.h).
#pragma once

#include <memory>
#include <vector>

#include "core/status.h"
#include "infer/grammar.h"
#include "server/api_request.h"
#include "tokenizer/tokenizer.h"

namespace gorae::server {

// The vocabulary as the grammar sees it: each id's bytes; `end_ids` end the answer; other
// special tokens and ids past the tokenizer (a padded model vocabulary) never appear.
std::shared_ptr<const GrammarVocab> GrammarVocabOf(const tokenizer::Tokenizer& tok, int64_t model_vocab,
                                                   const std::vector<int>& end_ids);

// The constraint for `format` (nullptr for plain text). With `after_reasoning` (the prompt
// opens a <think> block) the grammar first lets the reasoning run free up to "</think>", so a
// reasoning model thinks before it answers in the format. A schema or grammar that cannot be
// compiled is InvalidArgument naming format.field and the keyword or line.
Result<std::shared_ptr<const GrammarConstraint>> ConstraintFor(const OutputFormat& format, bool after_reasoning,
                                                               std::shared_ptr<const GrammarVocab> vocab);

}  // namespace gorae::server
