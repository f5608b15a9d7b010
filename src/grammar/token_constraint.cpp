#include "grammar/token_constraint.h"

#include <utility>

namespace cria::grammar {
namespace {

class MatcherConstraint final : public sampling::TokenConstraint {
  public:
    MatcherConstraint(std::shared_ptr<const Grammar> grammar,
                      std::shared_ptr<const TokenVocabulary> vocabulary)
        : matcher_(std::move(grammar), std::move(vocabulary)) {}

    bool can_continue() const override { return matcher_.can_continue(); }
    Status fill_mask(std::span<uint32_t> words) override { return matcher_.fill_mask(words); }
    Status accept_token(int32_t token) override { return matcher_.accept_token(token); }

  private:
    Matcher matcher_;
};

class GrammarConstraintFactory final : public sampling::TokenConstraintFactory {
  public:
    GrammarConstraintFactory(std::shared_ptr<const Grammar> grammar,
                             std::shared_ptr<const TokenVocabulary> vocabulary)
        : grammar_(std::move(grammar)), vocabulary_(std::move(vocabulary)) {}

    Expected<std::unique_ptr<sampling::TokenConstraint>> make() const override {
        return std::unique_ptr<sampling::TokenConstraint>(
            std::make_unique<MatcherConstraint>(grammar_, vocabulary_));
    }

  private:
    std::shared_ptr<const Grammar> grammar_;
    std::shared_ptr<const TokenVocabulary> vocabulary_;
};

}  // namespace

std::shared_ptr<const sampling::TokenConstraintFactory> make_token_constraint(
    std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocabulary) {
    return std::make_shared<const GrammarConstraintFactory>(std::move(grammar),
                                                            std::move(vocabulary));
}

}  // namespace cria::grammar
