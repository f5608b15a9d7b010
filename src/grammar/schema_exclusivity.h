// Proofs that two JSON Schemas have no valid value in common, which is what lets `oneOf` be
// generated like `anyOf`: when the branches exclude each other, a value generated from one
// branch validates against exactly that branch.
//
// The proof is conservative and symmetric (validation semantics, so a keyword constrains only
// the values of its type). Two schemas are proven exclusive when:
// - one lists its values (`const`/`enum`) and each of them provably fails the other schema;
// - their explicit `type`s share no type ("integer" counts as a "number"), or, for each type they
//   share: integer ranges (minimum/maximum/exclusive*) do not overlap, string length ranges do
//   not overlap, array item-count ranges do not overlap or a required prefix item is exclusive,
//   or objects have a property both require whose schemas are exclusive (a discriminator such as
//   {"kind": {"const": "a"}}) or one requires a property that the other, closed by
//   `additionalProperties: false`, does not declare;
// - a branch of `anyOf`/`oneOf` is exclusive with the other schema when all its branches are;
//   an `allOf` is when one of its parts is. Local `$ref`s are followed.
// Anything else (no explicit types, `pattern`s, formats, numbers with ranges) is not proven.
#pragma once

#include <nlohmann/json.hpp>

namespace cria::grammar {

// True when no JSON value validates against both `a` and `b`; false when that is not proven.
// `root` is the document the schemas' local `$ref`s point into. Bounded work: very large
// schemas are reported as not proven rather than examined in full.
bool schemas_exclusive(const nlohmann::ordered_json& root, const nlohmann::ordered_json& a,
                       const nlohmann::ordered_json& b);

}  // namespace cria::grammar
