// JSON Schema -> Grammar: the constraint behind response_format json_object / json_schema,
// Ollama's `format` and tool-call arguments.
//
// Supported keywords: type (also arrays of types), properties, required, additionalProperties,
// enum, const, items, prefixItems, minItems, maxItems, anyOf, oneOf, allOf (of object schemas),
// $ref (local "#/..." pointers, recursion allowed) with $defs/definitions, minLength,
// maxLength, pattern (the subset in pattern.h), format (date, time, date-time, uuid), and
// minimum/maximum/exclusiveMinimum/exclusiveMaximum for integers. Annotations (title,
// description, default, examples, $schema, $id, $comment, deprecated, readOnly, writeOnly) are
// ignored. Any other keyword, or a keyword used in a way cria cannot enforce, is an error that
// names it: a constraint is never silently dropped.
//
// Choices that keep every output valid and generation finite:
// - Objects emit their declared properties in the schema's `properties` order, as written in the
//   request (hence ordered_json: a plain nlohmann::json would sort the keys); optional ones may
//   be left out. Undeclared properties are only generated for schemas without `properties`.
// - oneOf is generated like anyOf, which keeps every output valid only when no value matches
//   two branches. So a oneOf is accepted only when its branches provably exclude each other
//   (schema_exclusivity.h: different explicit types, different const/enum values, disjoint
//   integer/length/item-count ranges, objects told apart by a required discriminator property),
//   and is otherwise an error naming 'oneOf' and the two branches (anyOf is the alternative).
//   Exact semantics for overlapping branches would need grammars for "matches A but not B",
//   and context-free grammars are not closed under difference.
// - Whitespace between tokens is nothing, one space, or a newline followed by up to 32 spaces
//   or 8 tabs; numbers to 15
//   integer digits, 15 fraction digits and 2 exponent digits, which also keeps them exact in
//   JavaScript and other double-based parsers.
// - \u escapes in strings never encode surrogates, so string lengths count the same everywhere.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "grammar/grammar.h"

namespace cria::grammar {

// Any single JSON object (response_format json_object, Ollama format "json").
Expected<std::shared_ptr<const Grammar>> compile_json_object_grammar();

// Output that validates against `schema`. Errors are kInvalidArgument (the request is at fault)
// with a message naming the offending keyword and where it is, e.g. "#/properties/a".
Expected<std::shared_ptr<const Grammar>> compile_json_schema(const nlohmann::ordered_json& schema);

// Adds schema rules to an existing builder, for grammars that embed JSON values (tool calls).
// The builder's JSON helper rules are shared between the schemas compiled into it.
class JsonSchemaCompiler {
  public:
    explicit JsonSchemaCompiler(GrammarBuilder& builder);
    ~JsonSchemaCompiler();
    JsonSchemaCompiler(const JsonSchemaCompiler&) = delete;
    JsonSchemaCompiler& operator=(const JsonSchemaCompiler&) = delete;

    // A rule matching one JSON value valid under `schema`; `$ref`s resolve against `schema`.
    Expected<RuleId> compile(const nlohmann::ordered_json& schema);
    // Optional whitespace between JSON tokens (bounded, see above).
    RuleId whitespace();
    // Any JSON object.
    RuleId any_object();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cria::grammar
