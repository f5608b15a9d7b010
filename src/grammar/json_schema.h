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
// - Objects emit their declared properties in the order the schema object iterates them
//   (nlohmann::json sorts keys by name); optional ones may be left out. Undeclared properties are
//   only generated for schemas without `properties`.
// - oneOf is generated like anyOf: its branches must not overlap for the output to validate.
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
Expected<std::shared_ptr<const Grammar>> compile_json_schema(const nlohmann::json& schema);

// Adds schema rules to an existing builder, for grammars that embed JSON values (tool calls).
// The builder's JSON helper rules are shared between the schemas compiled into it.
class JsonSchemaCompiler {
  public:
    explicit JsonSchemaCompiler(GrammarBuilder& builder);
    ~JsonSchemaCompiler();
    JsonSchemaCompiler(const JsonSchemaCompiler&) = delete;
    JsonSchemaCompiler& operator=(const JsonSchemaCompiler&) = delete;

    // A rule matching one JSON value valid under `schema`; `$ref`s resolve against `schema`.
    Expected<RuleId> compile(const nlohmann::json& schema);
    // Optional whitespace between JSON tokens (bounded, see above).
    RuleId whitespace();
    // Any JSON object.
    RuleId any_object();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cria::grammar
