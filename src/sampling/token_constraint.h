// A constraint on which tokens may come next, applied before each draw: structured output
// (a grammar) plugs into the sampler through this interface, so that the engine that drives
// sampling needs to know nothing about grammars.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"

namespace cria::sampling {

// One choice's constraint: it follows the tokens that choice draws. Used by one thread at a
// time.
class TokenConstraint {
  public:
    virtual ~TokenConstraint() = default;

    // False when no token may follow (the constrained output is complete): the choice ends.
    virtual bool can_continue() const = 0;
    // Sets bit t of `words` (32 tokens per word) for every token t allowed next, clears the
    // others.
    virtual Status fill_mask(std::span<uint32_t> words) = 0;
    // Advances past the token the choice drew (one the last mask allowed).
    virtual Status accept_token(int32_t token) = 0;
};

// Makes a fresh constraint for each choice of a request: choices follow their own paths.
// Shared by the choices, so it must be safe to call from several threads.
class TokenConstraintFactory {
  public:
    virtual ~TokenConstraintFactory() = default;
    virtual Expected<std::unique_ptr<TokenConstraint>> make() const = 0;
};

}  // namespace cria::sampling
