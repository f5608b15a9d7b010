// Model parameters (Ollama's "options"): what a Modelfile's PARAMETER lines set, what the params
// layer stores, and what an API request's `options` object overrides.
//
// Options travel as a JSON object holding only the keys that were set, each already converted to
// its kind (integer, number, boolean, list of strings), so that precedence is a key-wise merge:
// request options > Modelfile parameters > the runtime's defaults.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cria::store {

enum class OptionKind { kInteger, kNumber, kBoolean, kStringList };

// The kind of a known parameter, or nullopt for a name cria does not know.
std::optional<OptionKind> option_kind(std::string_view name);

// One PARAMETER line's value, converted to the parameter's kind. `stop` yields a one-element list
// (repeated lines accumulate through add_parameter). Unknown names and unparsable or out-of-range
// values are errors that name the parameter.
Expected<nlohmann::json> parse_parameter_value(std::string_view name, std::string_view text);

// Adds `name value` to `options`: repeated `stop` lines append, any other name replaces.
Status add_parameter(nlohmann::json& options, std::string_view name, std::string_view text);

// Validates an API request's `options` object: every known key must have its kind (a number for
// integer keys must be integral; a string for `stop` becomes a one-element list) and range.
// Unknown keys are dropped, as Ollama ignores options it does not know. Null values are dropped.
Expected<nlohmann::json> normalize_options(const nlohmann::json& options);

// Key-wise merge: every key of `overrides` replaces the one in `base`.
nlohmann::json merge_options(const nlohmann::json& base, const nlohmann::json& overrides);

// Typed view of a (normalized) options object for the parts of the runtime that use them.
struct ModelOptions {
    std::optional<int64_t> num_ctx;
    std::optional<int64_t> num_predict;
    std::optional<int64_t> num_keep;
    std::optional<int64_t> top_k;
    std::optional<int64_t> seed;
    std::optional<int64_t> repeat_last_n;
    std::optional<int64_t> mirostat;
    std::optional<double> temperature;
    std::optional<double> top_p;
    std::optional<double> min_p;
    std::optional<double> typical_p;
    std::optional<double> mirostat_tau;
    std::optional<double> mirostat_eta;
    std::optional<double> repeat_penalty;
    std::optional<double> presence_penalty;
    std::optional<double> frequency_penalty;
    std::vector<std::string> stop;

    static ModelOptions from_json(const nlohmann::json& options);
};

// Upper bound accepted for num_ctx, far above any model cria can run, so a typo fails early.
inline constexpr int64_t kMaxNumCtx = int64_t{1} << 22;
inline constexpr size_t kMaxStopSequences = 64;
inline constexpr size_t kMaxStopLength = 1024;

}  // namespace cria::store
