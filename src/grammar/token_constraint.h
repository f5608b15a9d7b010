// Grammars as sampling::TokenConstraint: each choice gets a Matcher over the grammar and the
// model's token vocabulary.
#pragma once

#include <memory>

#include "grammar/matcher.h"
#include "sampling/token_constraint.h"

namespace cria::grammar {

// The constraint factory of `grammar` over `vocabulary` (both shared, never null).
std::shared_ptr<const sampling::TokenConstraintFactory> make_token_constraint(
    std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocabulary);

}  // namespace cria::grammar
