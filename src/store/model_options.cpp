#include "store/model_options.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "sampling/sampling_params.h"

namespace cria::store {
namespace {

struct OptionSpec {
    std::string_view name;
    OptionKind kind;
    double min;  // inclusive bounds for numeric kinds
    double max;
};

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kMaxInt = 9.2e18;

// A sampling parameter: its range is the sampling library's (sampling::kParamRanges), so a
// Modelfile cannot set a value every request would then refuse.
constexpr OptionSpec sampling_option(std::string_view name) {
    for (const sampling::ParamRange& range : sampling::kParamRanges) {
        if (range.name == name) {
            return {range.name, range.integer ? OptionKind::kInteger : OptionKind::kNumber,
                    range.min, range.max};
        }
    }
    return {name, OptionKind::kNumber, 0, -1};  // unknown: nothing is in range
}

// Ollama's parameter names. Bounds reject what is meaningless for the parameter (num_ctx below
// 1, a negative temperature, top_p above 1).
constexpr OptionSpec kOptions[] = {
    {"num_ctx", OptionKind::kInteger, 1, static_cast<double>(kMaxNumCtx)},
    {"num_batch", OptionKind::kInteger, 1, 1 << 20},
    {"num_gpu", OptionKind::kInteger, -1, 1 << 20},
    {"main_gpu", OptionKind::kInteger, 0, 1 << 10},
    {"num_thread", OptionKind::kInteger, 0, 1 << 12},
    {"num_keep", OptionKind::kInteger, -1, kMaxInt},
    {"num_predict", OptionKind::kInteger, -2, kMaxInt},
    {"seed", OptionKind::kInteger, -kMaxInt, kMaxInt},
    sampling_option("top_k"),
    sampling_option("repeat_last_n"),
    sampling_option("mirostat"),
    sampling_option("temperature"),
    sampling_option("top_p"),
    sampling_option("min_p"),
    sampling_option("typical_p"),
    sampling_option("repeat_penalty"),
    sampling_option("presence_penalty"),
    sampling_option("frequency_penalty"),
    sampling_option("mirostat_tau"),
    sampling_option("mirostat_eta"),
    {"penalize_newline", OptionKind::kBoolean, 0, 0},
    {"use_mmap", OptionKind::kBoolean, 0, 0},
    {"use_mlock", OptionKind::kBoolean, 0, 0},
    {"numa", OptionKind::kBoolean, 0, 0},
    {"stop", OptionKind::kStringList, 0, 0},
};

const OptionSpec* find_spec(std::string_view name) {
    for (const auto& spec : kOptions) {
        if (spec.name == name) return &spec;
    }
    return nullptr;
}

Status range_error(const OptionSpec& spec, const std::string& got) {
    return invalid_argument("parameter '" + std::string(spec.name) + "' out of range: " + got);
}

Expected<nlohmann::json> check_number(const OptionSpec& spec, double value) {
    const sampling::ParamRange* range = sampling::find_param_range(spec.name);
    const bool in_range =
        range != nullptr ? range->contains(value) : value >= spec.min && value <= spec.max;
    if (!std::isfinite(value) || !in_range) {
        if (range != nullptr) {
            return invalid_argument("parameter '" + std::string(spec.name) + "' out of range: " +
                                    sampling::describe_range_violation(*range, value));
        }
        return range_error(spec, std::to_string(value));
    }
    if (spec.kind == OptionKind::kInteger) {
        if (value != std::floor(value)) {
            return invalid_argument("parameter '" + std::string(spec.name) +
                                    "' must be an integer, got " + std::to_string(value));
        }
        return nlohmann::json(static_cast<int64_t>(value));
    }
    return nlohmann::json(value);
}

Status check_stop(const std::string& stop) {
    if (stop.empty()) return invalid_argument("parameter 'stop' must not be empty");
    if (stop.size() > kMaxStopLength) {
        return invalid_argument("parameter 'stop' longer than 1024 bytes");
    }
    return Status::ok();
}

}  // namespace

std::optional<OptionKind> option_kind(std::string_view name) {
    const OptionSpec* spec = find_spec(name);
    if (spec == nullptr) return std::nullopt;
    return spec->kind;
}

Expected<nlohmann::json> parse_parameter_value(std::string_view name, std::string_view text) {
    const OptionSpec* spec = find_spec(name);
    if (spec == nullptr) return invalid_argument("unknown parameter '" + std::string(name) + "'");
    const std::string value(text);
    switch (spec->kind) {
        case OptionKind::kStringList: {
            CRIA_RETURN_IF_ERROR(check_stop(value));
            return nlohmann::json::array({value});
        }
        case OptionKind::kBoolean:
            if (value == "true" || value == "1") return nlohmann::json(true);
            if (value == "false" || value == "0") return nlohmann::json(false);
            return invalid_argument("parameter '" + value + "' is not a boolean");
        case OptionKind::kInteger: {
            int64_t parsed = 0;
            const auto [end, ec] =
                std::from_chars(value.data(), value.data() + value.size(), parsed);
            if (ec != std::errc() || end != value.data() + value.size()) {
                return invalid_argument("parameter '" + std::string(name) +
                                        "' must be an integer, got '" + value + "'");
            }
            return check_number(*spec, static_cast<double>(parsed));
        }
        case OptionKind::kNumber: {
            double parsed = 0;
            const auto [end, ec] =
                std::from_chars(value.data(), value.data() + value.size(), parsed);
            if (ec != std::errc() || end != value.data() + value.size()) {
                return invalid_argument("parameter '" + std::string(name) +
                                        "' must be a number, got '" + value + "'");
            }
            return check_number(*spec, parsed);
        }
    }
    return internal_error("unhandled option kind");
}

Status add_parameter(nlohmann::json& options, std::string_view name, std::string_view text) {
    CRIA_ASSIGN_OR_RETURN(nlohmann::json value, parse_parameter_value(name, text));
    const std::string key(name);
    if (!options.is_object()) options = nlohmann::json::object();
    if (value.is_array() && options.contains(key) && options[key].is_array()) {
        if (options[key].size() >= kMaxStopSequences) {
            return invalid_argument("more than 64 stop sequences");
        }
        options[key].push_back(value[0]);
    } else {
        options[key] = std::move(value);
    }
    return Status::ok();
}

Expected<nlohmann::json> normalize_options(const nlohmann::json& options) {
    nlohmann::json out = nlohmann::json::object();
    if (options.is_null()) return out;
    if (!options.is_object()) return invalid_argument("options must be an object");
    for (const auto& [key, value] : options.items()) {
        const OptionSpec* spec = find_spec(key);
        if (spec == nullptr || value.is_null()) continue;
        switch (spec->kind) {
            case OptionKind::kStringList: {
                nlohmann::json list = nlohmann::json::array();
                if (value.is_string()) {
                    CRIA_RETURN_IF_ERROR(check_stop(value.get<std::string>()));
                    list.push_back(value);
                } else if (value.is_array()) {
                    if (value.size() > kMaxStopSequences) {
                        return invalid_argument("more than 64 stop sequences");
                    }
                    for (const auto& item : value) {
                        if (!item.is_string()) {
                            return invalid_argument("option 'stop' must be a list of strings");
                        }
                        CRIA_RETURN_IF_ERROR(check_stop(item.get<std::string>()));
                        list.push_back(item);
                    }
                } else {
                    return invalid_argument("option 'stop' must be a list of strings");
                }
                out[key] = std::move(list);
                break;
            }
            case OptionKind::kBoolean:
                if (!value.is_boolean()) {
                    return invalid_argument("option '" + key + "' must be a boolean");
                }
                out[key] = value;
                break;
            case OptionKind::kInteger:
            case OptionKind::kNumber: {
                if (!value.is_number()) {
                    return invalid_argument("option '" + key + "' must be a number");
                }
                CRIA_ASSIGN_OR_RETURN(out[key], check_number(*spec, value.get<double>()));
                break;
            }
        }
    }
    return out;
}

nlohmann::json merge_options(const nlohmann::json& base, const nlohmann::json& overrides) {
    nlohmann::json out = base.is_object() ? base : nlohmann::json::object();
    if (overrides.is_object()) {
        for (const auto& [key, value] : overrides.items()) out[key] = value;
    }
    return out;
}

ModelOptions ModelOptions::from_json(const nlohmann::json& options) {
    ModelOptions out;
    if (!options.is_object()) return out;
    auto integer = [&](const char* key, std::optional<int64_t>& field) {
        const auto it = options.find(key);
        if (it != options.end() && it->is_number()) field = it->get<int64_t>();
    };
    auto number = [&](const char* key, std::optional<double>& field) {
        const auto it = options.find(key);
        if (it != options.end() && it->is_number()) field = it->get<double>();
    };
    integer("num_ctx", out.num_ctx);
    integer("num_predict", out.num_predict);
    integer("num_keep", out.num_keep);
    integer("top_k", out.top_k);
    integer("seed", out.seed);
    integer("repeat_last_n", out.repeat_last_n);
    integer("mirostat", out.mirostat);
    number("temperature", out.temperature);
    number("top_p", out.top_p);
    number("min_p", out.min_p);
    number("typical_p", out.typical_p);
    number("mirostat_tau", out.mirostat_tau);
    number("mirostat_eta", out.mirostat_eta);
    number("repeat_penalty", out.repeat_penalty);
    number("presence_penalty", out.presence_penalty);
    number("frequency_penalty", out.frequency_penalty);
    const auto stop = options.find("stop");
    if (stop != options.end() && stop->is_array()) {
        for (const auto& s : *stop) {
            if (s.is_string()) out.stop.push_back(s.get<std::string>());
        }
    }
    return out;
}

}  // namespace cria::store
