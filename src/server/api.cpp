#include "server/api.h"
#include "server/json_body.h"

#include "sampling/sampling_params.h"
#include "sampling/stop_matcher.h"

#include <cassert>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

namespace cria::server {

using json = nlohmann::ordered_json;

// ---- Errors ----------------------------------------------------------------------------------

ApiError invalid_request(std::string message, std::optional<std::string> param,
                         std::optional<std::string> code) {
    ApiError error;
    error.http_status = 400;
    error.message = std::move(message);
    error.param = std::move(param);
    error.code = std::move(code);
    return error;
}

ApiError model_not_found(const std::string& model) {
    ApiError error;
    error.http_status = 404;
    error.message = "The model '" + model + "' does not exist or is not served here";
    error.param = "model";
    error.code = "model_not_found";
    return error;
}

ApiError context_length_exceeded(int64_t prompt_tokens, int64_t context_length,
                                 const std::string& param) {
    ApiError error;
    error.http_status = 400;
    error.message = "This model's maximum context length is " + std::to_string(context_length) +
                    " tokens. However, your request has " + std::to_string(prompt_tokens) +
                    " prompt tokens, which leaves no room for a completion.";
    error.param = param;
    error.code = "context_length_exceeded";
    return error;
}

ApiError body_too_large(uint64_t cap_bytes) {
    ApiError error;
    error.http_status = 413;
    error.message =
        "The request body is larger than the limit of " + std::to_string(cap_bytes) + " bytes";
    error.code = "request_too_large";
    return error;
}

ApiError server_busy(std::string message) {
    ApiError error;
    error.http_status = 503;
    error.message = std::move(message);
    error.type = "server_error";
    error.code = "server_busy";
    return error;
}

ApiError internal_fault(std::string message) {
    ApiError error;
    error.http_status = 500;
    error.message = std::move(message);
    error.type = "server_error";
    error.code = "internal_error";
    return error;
}

json error_json(const ApiError& error) {
    json body = json::object();
    body["message"] = error.message;
    body["type"] = error.type;
    body["param"] = error.param ? json(*error.param) : json(nullptr);
    body["code"] = error.code ? json(*error.code) : json(nullptr);
    return json{{"error", std::move(body)}};
}

sampling::SamplingParams openai_default_sampling() {
    sampling::SamplingParams params;
    params.temperature = 1.0f;
    params.top_k = 0;
    params.top_p = 1.0f;
    params.min_p = 0.0f;
    params.repeat_penalty = 1.0f;
    return params;
}

// ---- Field readers ---------------------------------------------------------------------------
// Each reads one optional field of a request object. A missing field or JSON null leaves the
// output untouched (OpenAI treats null as "not given"); a present one of the wrong type or out
// of range yields an ApiError whose param names the field.

namespace {

using MaybeError = std::optional<ApiError>;

const char* json_type_name(const json& value) {
    switch (value.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return "an integer";
        case json::value_t::number_float:
            return "a number";
        case json::value_t::string:
            return "a string";
        case json::value_t::array:
            return "an array";
        case json::value_t::object:
            return "an object";
        default:
            return "an unsupported value";
    }
}

ApiError wrong_type(const std::string& param, const char* expected, const json& got) {
    return invalid_request("Invalid type for '" + param + "': expected " + expected + ", got " +
                               json_type_name(got) + ".",
                           param, "invalid_type");
}

std::string format_number(double value) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%g", value);
    return buf;
}

const json* find_field(const json& object, const char* name) {
    auto it = object.find(name);
    if (it == object.end() || it->is_null()) return nullptr;
    return &*it;
}

MaybeError read_number(const json& object, const char* name, double min, double max, float* out) {
    const json* value = find_field(object, name);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number()) return wrong_type(name, "a number", *value);
    const double number = value->get<double>();
    if (!std::isfinite(number) || number < min || number > max) {
        return invalid_request("Invalid value for '" + std::string(name) +
                                   "': " + format_number(number) + " is not between " +
                                   format_number(min) + " and " + format_number(max) + ".",
                               name, "invalid_value");
    }
    *out = static_cast<float>(number);
    return std::nullopt;
}

// JSON integers, or numbers with no fractional part (some clients send 1.0).
MaybeError read_integer(const json& object, const char* name, int64_t min, int64_t max,
                        int64_t* out) {
    const json* value = find_field(object, name);
    if (value == nullptr) return std::nullopt;
    int64_t number = 0;
    if (value->is_number_unsigned()) {
        const uint64_t u = value->get<uint64_t>();
        number = u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                     ? std::numeric_limits<int64_t>::max()
                     : static_cast<int64_t>(u);
    } else if (value->is_number_integer()) {
        number = value->get<int64_t>();
    } else if (value->is_number_float()) {
        const double d = value->get<double>();
        if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9.0e18) {
            return wrong_type(name, "an integer", *value);
        }
        number = static_cast<int64_t>(d);
    } else {
        return wrong_type(name, "an integer", *value);
    }
    if (number < min || number > max) {
        std::string range = max == std::numeric_limits<int64_t>::max()
                                ? "at least " + std::to_string(min)
                                : "between " + std::to_string(min) + " and " + std::to_string(max);
        return invalid_request("Invalid value for '" + std::string(name) +
                                   "': " + std::to_string(number) + " is not " + range + ".",
                               name, "invalid_value");
    }
    *out = number;
    return std::nullopt;
}

MaybeError read_int32(const json& object, const char* name, int64_t min, int64_t max,
                      int32_t* out) {
    int64_t wide = *out;
    if (auto error = read_integer(object, name, min, max, &wide)) return error;
    *out = static_cast<int32_t>(wide);
    return std::nullopt;
}

MaybeError read_bool(const json& object, const char* name, bool* out) {
    const json* value = find_field(object, name);
    if (value == nullptr) return std::nullopt;
    if (!value->is_boolean()) return wrong_type(name, "a boolean", *value);
    *out = value->get<bool>();
    return std::nullopt;
}

MaybeError read_string(const json& object, const char* name, std::string* out) {
    const json* value = find_field(object, name);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) return wrong_type(name, "a string", *value);
    *out = value->get<std::string>();
    return std::nullopt;
}

MaybeError read_model(const json& object, std::string* out) {
    const json* value = find_field(object, "model");
    if (value == nullptr) {
        return invalid_request("You must provide a model parameter.", "model", "missing_required");
    }
    if (!value->is_string()) return wrong_type("model", "a string", *value);
    *out = value->get<std::string>();
    if (out->empty()) {
        return invalid_request("The 'model' parameter must not be empty.", "model",
                               "invalid_value");
    }
    return std::nullopt;
}

MaybeError read_stop(const json& object, std::vector<std::string>* out) {
    const json* value = find_field(object, "stop");
    if (value == nullptr) return std::nullopt;
    if (value->is_string()) {
        out->push_back(value->get<std::string>());
    } else if (value->is_array()) {
        for (size_t i = 0; i < value->size(); ++i) {
            const json& item = (*value)[i];
            if (!item.is_string()) {
                return wrong_type("stop[" + std::to_string(i) + "]", "a string", item);
            }
            out->push_back(item.get<std::string>());
        }
    } else {
        return wrong_type("stop", "a string or an array of strings", *value);
    }
    // Count and length limits are the stop matcher's; the API allows OpenAI's four strings.
    const Status valid = sampling::validate_stop_strings(*out, sampling::kOpenAiMaxStopStrings);
    if (!valid.is_ok()) return invalid_request(valid.message(), "stop", "invalid_value");
    return std::nullopt;
}

MaybeError read_logit_bias(const json& object, std::vector<sampling::TokenBias>* out) {
    const json* value = find_field(object, "logit_bias");
    if (value == nullptr) return std::nullopt;
    if (!value->is_object()) return wrong_type("logit_bias", "an object", *value);
    if (value->size() > kMaxLogitBias) {
        return invalid_request(
            "logit_bias may hold at most " + std::to_string(kMaxLogitBias) + " entries.",
            "logit_bias", "invalid_value");
    }
    for (const auto& [key, bias] : value->items()) {
        Expected<int32_t> id = sampling::parse_logit_bias_key(key);
        if (!id.has_value()) {
            return invalid_request(id.status().message(), "logit_bias", "invalid_value");
        }
        if (!bias.is_number()) return wrong_type("logit_bias", "numbers as values", bias);
        const double b = bias.get<double>();
        if (!std::isfinite(b) || std::fabs(b) > sampling::kMaxLogitBias) {
            return invalid_request("Invalid value in 'logit_bias' for token " + key + ": " +
                                       format_number(b) + " is not between -100 and 100.",
                                   "logit_bias", "invalid_value");
        }
        out->push_back(sampling::TokenBias{*id, static_cast<float>(b)});
    }
    return std::nullopt;
}

// The SamplingParams member of a float parameter in sampling::kParamRanges.
float* sampling_field(sampling::SamplingParams& s, std::string_view name) {
    if (name == "temperature") return &s.temperature;
    if (name == "top_p") return &s.top_p;
    if (name == "min_p") return &s.min_p;
    if (name == "typical_p") return &s.typical_p;
    if (name == "mirostat_tau") return &s.mirostat_tau;
    if (name == "mirostat_eta") return &s.mirostat_eta;
    if (name == "repeat_penalty") return &s.repeat_penalty;
    if (name == "presence_penalty") return &s.presence_penalty;
    assert(name == "frequency_penalty");
    return &s.frequency_penalty;
}

int32_t* sampling_int_field(sampling::SamplingParams& s, std::string_view name) {
    if (name == "top_k") return &s.top_k;
    if (name == "mirostat") return &s.mirostat;
    assert(name == "repeat_last_n");
    return &s.repeat_last_n;
}

// A sampling parameter checked against its range in sampling::kParamRanges.
MaybeError read_sampling_param(const json& body, const char* name, float* out) {
    const sampling::ParamRange& range = sampling::param_range(name);
    if (auto e = read_number(body, name, range.min, range.max, out)) return e;
    if (find_field(body, name) != nullptr && !range.contains(*out)) {
        return invalid_request("Invalid value for '" + std::string(name) +
                                   "': " + sampling::describe_range_violation(range, *out) + ".",
                               name, "invalid_value");
    }
    return std::nullopt;
}

MaybeError read_sampling_param(const json& body, const char* name, int32_t* out) {
    const sampling::ParamRange& range = sampling::param_range(name);
    return read_int32(body, name, static_cast<int64_t>(range.min), static_cast<int64_t>(range.max),
                      out);
}

// Fields shared by chat and legacy completions (everything except logprobs, whose shape
// differs between the two).
MaybeError read_generation(const json& body, GenerationRequest* out) {
    sampling::SamplingParams& s = out->sampling;
    for (const char* name :
         {"temperature", "top_p", "min_p", "typical_p", "mirostat_tau", "mirostat_eta",
          "repeat_penalty", "presence_penalty", "frequency_penalty"}) {
        if (auto e = read_sampling_param(body, name, sampling_field(s, name))) return e;
    }
    for (const char* name : {"top_k", "mirostat", "repeat_last_n"}) {
        if (auto e = read_sampling_param(body, name, sampling_int_field(s, name))) return e;
    }
    int64_t seed = 0;
    const bool has_seed = find_field(body, "seed") != nullptr;
    if (auto e = read_integer(body, "seed", std::numeric_limits<int64_t>::min(),
                              std::numeric_limits<int64_t>::max(), &seed)) {
        return e;
    }
    if (has_seed) s.seed = static_cast<uint64_t>(seed);
    if (auto e = read_logit_bias(body, &s.logit_bias)) return e;

    const int64_t kNoLimit = std::numeric_limits<int64_t>::max();
    int64_t max_tokens = 0;
    if (find_field(body, "max_tokens") != nullptr) {
        if (auto e = read_integer(body, "max_tokens", 1, kNoLimit, &max_tokens)) return e;
        out->max_tokens = max_tokens;
    }
    // The newer name wins when a client sends both.
    if (find_field(body, "max_completion_tokens") != nullptr) {
        if (auto e = read_integer(body, "max_completion_tokens", 1, kNoLimit, &max_tokens)) {
            return e;
        }
        out->max_tokens = max_tokens;
    }
    if (auto e = read_stop(body, &out->stop)) return e;
    int64_t n = out->n;
    if (auto e = read_integer(body, "n", 1, kMaxChoices, &n)) return e;
    out->n = static_cast<int>(n);
    return std::nullopt;
}

MaybeError read_stream(const json& body, bool* stream, bool* include_usage) {
    if (auto e = read_bool(body, "stream", stream)) return e;
    const json* options = find_field(body, "stream_options");
    if (options == nullptr) return std::nullopt;
    if (!options->is_object()) return wrong_type("stream_options", "an object", *options);
    if (!*stream) {
        return invalid_request(
            "The 'stream_options' parameter is only allowed when 'stream' is "
            "true.",
            "stream_options", "invalid_value");
    }
    const json* usage = find_field(*options, "include_usage");
    if (usage != nullptr) {
        if (!usage->is_boolean()) {
            return wrong_type("stream_options.include_usage", "a boolean", *usage);
        }
        *include_usage = usage->get<bool>();
    }
    return std::nullopt;
}

// The body must be a JSON object; anything else is a 400 naming no field.
ApiResult<json> parse_body(std::string_view body) {
    json parsed = parse_json_body(body);
    if (parsed.is_discarded()) {
        return invalid_request(
            "We could not parse the JSON body of your request. The body must be valid JSON.",
            std::nullopt, "invalid_json");
    }
    if (!parsed.is_object()) {
        return invalid_request("The request body must be a JSON object.", std::nullopt,
                               "invalid_json");
    }
    return parsed;
}

// Joins the text parts of a content array; other part kinds need a model that can see or hear.
MaybeError flatten_content(const json& content, const std::string& param, json* out) {
    if (content.is_string()) {
        *out = content;
        return std::nullopt;
    }
    if (!content.is_array()) return wrong_type(param, "a string or an array of parts", content);
    std::string joined;
    for (size_t j = 0; j < content.size(); ++j) {
        const json& part = content[j];
        const std::string part_param = param + "[" + std::to_string(j) + "]";
        if (!part.is_object()) return wrong_type(part_param, "an object", part);
        const json* type = find_field(part, "type");
        if (type == nullptr || !type->is_string()) {
            return invalid_request("Each content part needs a string 'type'.", part_param + ".type",
                                   "invalid_value");
        }
        const std::string kind = type->get<std::string>();
        if (kind != "text" && kind != "refusal") {
            return invalid_request(
                "Content parts of type '" + kind + "' are not supported; only 'text' parts are.",
                part_param + ".type", "unsupported_content");
        }
        const char* field = kind == "text" ? "text" : "refusal";
        const json* text = find_field(part, field);
        if (text == nullptr || !text->is_string()) {
            return invalid_request("A '" + kind + "' content part needs a string '" + field + "'.",
                                   part_param + "." + field, "invalid_value");
        }
        joined += text->get<std::string>();
    }
    *out = joined;
    return std::nullopt;
}

// Chat templates written for Hugging Face expect tool-call arguments as an object; OpenAI
// clients send them as a JSON string. Parse the string when it holds an object.
void normalize_tool_calls(json& message) {
    auto calls = message.find("tool_calls");
    if (calls == message.end() || !calls->is_array()) return;
    for (json& call : *calls) {
        if (!call.is_object()) continue;
        auto function = call.find("function");
        if (function == call.end() || !function->is_object()) continue;
        auto arguments = function->find("arguments");
        if (arguments == function->end() || !arguments->is_string()) continue;
        json parsed = parse_json_body(arguments->get<std::string>());
        if (!parsed.is_discarded() && parsed.is_object()) *arguments = std::move(parsed);
    }
}

MaybeError read_messages(const json& body, json* out) {
    const json* messages = find_field(body, "messages");
    if (messages == nullptr) {
        return invalid_request("Missing required parameter: 'messages'.", "messages",
                               "missing_required");
    }
    if (!messages->is_array()) return wrong_type("messages", "an array", *messages);
    if (messages->empty()) {
        return invalid_request("'messages' must contain at least one message.", "messages",
                               "invalid_value");
    }
    *out = json::array();
    for (size_t i = 0; i < messages->size(); ++i) {
        const json& message = (*messages)[i];
        const std::string param = "messages[" + std::to_string(i) + "]";
        if (!message.is_object()) return wrong_type(param, "an object", message);
        const json* role = find_field(message, "role");
        if (role == nullptr) {
            return invalid_request("Missing required parameter: '" + param + ".role'.",
                                   param + ".role", "missing_required");
        }
        if (!role->is_string()) return wrong_type(param + ".role", "a string", *role);
        std::string role_name = role->get<std::string>();
        static const char* const kRoles[] = {"system",    "developer", "user",
                                             "assistant", "tool",      "function"};
        bool known = false;
        for (const char* r : kRoles) known = known || role_name == r;
        if (!known) {
            return invalid_request("Invalid value for '" + param + ".role': '" + role_name +
                                       "'. Supported values are: 'system', 'developer', 'user', "
                                       "'assistant', 'tool' and 'function'.",
                                   param + ".role", "invalid_value");
        }
        json normalized = message;
        // Templates know "system"; "developer" is OpenAI's newer name for the same thing.
        if (role_name == "developer") normalized["role"] = "system";
        const json* content = find_field(message, "content");
        if (content == nullptr) {
            if (role_name != "assistant") {
                return invalid_request("Missing required parameter: '" + param + ".content'.",
                                       param + ".content", "missing_required");
            }
            normalized["content"] = nullptr;
        } else if (auto e = flatten_content(*content, param + ".content", &normalized["content"])) {
            return e;
        }
        normalize_tool_calls(normalized);
        out->push_back(std::move(normalized));
    }
    return std::nullopt;
}

// The legacy `functions` as `tools`: each function becomes {"type": "function", "function": f}.
MaybeError read_legacy_functions(const json& functions, json* tools) {
    if (!functions.is_array()) return wrong_type("functions", "an array", functions);
    json converted = json::array();
    for (size_t i = 0; i < functions.size(); ++i) {
        const json& function = functions[i];
        const std::string param = "functions[" + std::to_string(i) + "]";
        if (!function.is_object()) return wrong_type(param, "an object", function);
        const json* name = find_field(function, "name");
        if (name == nullptr || !name->is_string() || name->get<std::string>().empty()) {
            return invalid_request("A function needs a non-empty string 'name'.", param + ".name",
                                   "missing_required");
        }
        converted.push_back({{"type", "function"}, {"function", function}});
    }
    *tools = std::move(converted);
    return std::nullopt;
}

// The legacy `function_call` as `tool_choice`: "none", "auto", or {"name": ...}.
MaybeError read_legacy_function_call(const json& call, json* tool_choice) {
    if (call.is_string()) {
        const std::string mode = call.get<std::string>();
        if (mode != "none" && mode != "auto") {
            return invalid_request("Invalid value for 'function_call': '" + mode +
                                       "'. Supported values are 'none', 'auto' or "
                                       "{\"name\": ...}.",
                                   "function_call", "invalid_value");
        }
        *tool_choice = mode;
        return std::nullopt;
    }
    if (!call.is_object()) return wrong_type("function_call", "a string or an object", call);
    const json* name = find_field(call, "name");
    if (name == nullptr || !name->is_string()) {
        return invalid_request("'function_call' as an object needs a string 'name'.",
                               "function_call.name", "missing_required");
    }
    *tool_choice = {{"type", "function"}, {"function", {{"name", *name}}}};
    return std::nullopt;
}

MaybeError read_tools(const json& body, json* tools, json* tool_choice) {
    const json* functions = find_field(body, "functions");
    const json* function_call = find_field(body, "function_call");
    if (functions != nullptr && find_field(body, "tools") != nullptr) {
        return invalid_request("Give either 'tools' or the legacy 'functions', not both.",
                               "functions", "invalid_value");
    }
    if (function_call != nullptr && find_field(body, "tool_choice") != nullptr) {
        return invalid_request("Give either 'tool_choice' or the legacy 'function_call', not both.",
                               "function_call", "invalid_value");
    }
    json legacy = json::object();
    if (functions != nullptr) {
        if (auto e = read_legacy_functions(*functions, &legacy["tools"])) return e;
    }
    if (function_call != nullptr) {
        if (auto e = read_legacy_function_call(*function_call, &legacy["tool_choice"])) return e;
    }
    if (!legacy.empty()) {
        // Checked below as if the client had sent the modern fields.
        json modern = body;
        modern.erase("functions");
        modern.erase("function_call");
        for (auto& [key, value] : legacy.items()) modern[key] = value;
        return read_tools(modern, tools, tool_choice);
    }
    const json* value = find_field(body, "tools");
    if (value != nullptr) {
        if (!value->is_array()) return wrong_type("tools", "an array", *value);
        for (size_t i = 0; i < value->size(); ++i) {
            const json& tool = (*value)[i];
            const std::string param = "tools[" + std::to_string(i) + "]";
            if (!tool.is_object()) return wrong_type(param, "an object", tool);
            const json* type = find_field(tool, "type");
            if (type == nullptr || !type->is_string() || type->get<std::string>() != "function") {
                return invalid_request("Only tools of type 'function' are supported.",
                                       param + ".type", "invalid_value");
            }
            const json* function = find_field(tool, "function");
            if (function == nullptr || !function->is_object()) {
                return invalid_request("A function tool needs a 'function' object.",
                                       param + ".function", "missing_required");
            }
            const json* name = find_field(*function, "name");
            if (name == nullptr || !name->is_string() || name->get<std::string>().empty()) {
                return invalid_request("A function tool needs a non-empty string 'name'.",
                                       param + ".function.name", "missing_required");
            }
        }
        *tools = *value;
    }
    const json* choice = find_field(body, "tool_choice");
    if (choice != nullptr) {
        if (choice->is_string()) {
            const std::string mode = choice->get<std::string>();
            if (mode != "none" && mode != "auto" && mode != "required") {
                return invalid_request("Invalid value for 'tool_choice': '" + mode +
                                           "'. Supported values are 'none', 'auto', 'required' "
                                           "or a function object.",
                                       "tool_choice", "invalid_value");
            }
        } else if (!choice->is_object()) {
            return wrong_type("tool_choice", "a string or an object", *choice);
        }
        *tool_choice = *choice;
    }
    return std::nullopt;
}

MaybeError read_chat_template_kwargs(const json& body, json* out) {
    const json* value = find_field(body, "chat_template_kwargs");
    if (value == nullptr) return std::nullopt;
    if (!value->is_object()) return wrong_type("chat_template_kwargs", "an object", *value);
    *out = *value;
    return std::nullopt;
}

MaybeError read_response_format(const json& body, json* out) {
    const json* value = find_field(body, "response_format");
    if (value == nullptr) return std::nullopt;
    if (!value->is_object()) return wrong_type("response_format", "an object", *value);
    const json* type = find_field(*value, "type");
    if (type == nullptr || !type->is_string()) {
        return invalid_request("'response_format' needs a string 'type'.", "response_format.type",
                               "missing_required");
    }
    const std::string kind = type->get<std::string>();
    if (kind != "text" && kind != "json_object" && kind != "json_schema") {
        return invalid_request("Invalid value for 'response_format.type': '" + kind +
                                   "'. Supported values are 'text', 'json_object' and "
                                   "'json_schema'.",
                               "response_format.type", "invalid_value");
    }
    if (kind == "json_schema") {
        const json* schema = find_field(*value, "json_schema");
        if (schema == nullptr || !schema->is_object()) {
            return invalid_request(
                "'response_format' of type 'json_schema' needs a "
                "'json_schema' object.",
                "response_format.json_schema", "missing_required");
        }
    }
    *out = *value;
    return std::nullopt;
}

MaybeError read_prompts(const json& body, std::vector<PromptInput>* out) {
    const json* prompt = find_field(body, "prompt");
    if (prompt == nullptr) {
        return invalid_request("Missing required parameter: 'prompt'.", "prompt",
                               "missing_required");
    }
    auto token_list = [](const json& array, const std::string& param,
                         PromptInput* input) -> MaybeError {
        input->is_tokens = true;
        for (const json& id : array) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
                id.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
                return invalid_request(
                    "Token ids in '" + param + "' must be non-negative integers.", param,
                    "invalid_value");
            }
            input->tokens.push_back(static_cast<int32_t>(id.get<int64_t>()));
        }
        if (input->tokens.empty()) {
            return invalid_request("A token prompt must not be empty.", param, "invalid_value");
        }
        return std::nullopt;
    };
    if (prompt->is_string()) {
        out->push_back(PromptInput{prompt->get<std::string>(), {}, false});
        return std::nullopt;
    }
    if (!prompt->is_array()) {
        return wrong_type("prompt", "a string, an array of strings or an array of token ids",
                          *prompt);
    }
    if (prompt->empty()) {
        return invalid_request("'prompt' must not be an empty array.", "prompt", "invalid_value");
    }
    // An array of integers is one tokenized prompt; otherwise each element is its own prompt.
    if ((*prompt)[0].is_number()) {
        PromptInput input;
        if (auto e = token_list(*prompt, "prompt", &input)) return e;
        out->push_back(std::move(input));
        return std::nullopt;
    }
    if (prompt->size() > kMaxPrompts) {
        return invalid_request(
            "At most " + std::to_string(kMaxPrompts) + " prompts are allowed in one request.",
            "prompt", "invalid_value");
    }
    for (size_t i = 0; i < prompt->size(); ++i) {
        const json& item = (*prompt)[i];
        const std::string param = "prompt[" + std::to_string(i) + "]";
        PromptInput input;
        if (item.is_string()) {
            input.text = item.get<std::string>();
        } else if (item.is_array()) {
            if (auto e = token_list(item, param, &input)) return e;
        } else {
            return wrong_type(param, "a string or an array of token ids", item);
        }
        out->push_back(std::move(input));
    }
    return std::nullopt;
}

}  // namespace

ApiResult<ChatCompletionRequest> parse_chat_completion_request(std::string_view text) {
    ApiResult<json> parsed = parse_body(text);
    if (!parsed.ok()) return parsed.error();
    const json& body = parsed.value();
    ChatCompletionRequest request;
    if (auto e = read_model(body, &request.model)) return *e;
    if (auto e = read_messages(body, &request.messages)) return *e;
    if (auto e = read_generation(body, &request.generation)) return *e;
    if (auto e = read_bool(body, "logprobs", &request.generation.sampling.logprobs)) return *e;
    if (find_field(body, "top_logprobs") != nullptr) {
        int64_t top = 0;
        if (auto e = read_integer(body, "top_logprobs", 0, sampling::kMaxTopLogprobs, &top))
            return *e;
        if (!request.generation.sampling.logprobs) {
            return invalid_request("'logprobs' must be set to true when 'top_logprobs' is given.",
                                   "top_logprobs", "invalid_value");
        }
        request.generation.sampling.top_logprobs = static_cast<int>(top);
    }
    if (auto e = read_stream(body, &request.stream, &request.include_usage)) return *e;
    if (auto e = read_tools(body, &request.tools, &request.tool_choice)) return *e;
    if (auto e = read_response_format(body, &request.response_format)) return *e;
    if (auto e = read_chat_template_kwargs(body, &request.chat_template_kwargs)) return *e;
    if (auto e = read_bool(body, "parallel_tool_calls", &request.parallel_tool_calls)) return *e;
    if (find_field(body, "reasoning_effort") != nullptr) {
        std::string effort;
        if (auto e = read_string(body, "reasoning_effort", &effort)) return *e;
        if (effort != "none" && effort != "minimal" && effort != "low" && effort != "medium" &&
            effort != "high") {
            return invalid_request("Invalid value for 'reasoning_effort': '" + effort +
                                       "'. Supported values are 'none', 'minimal', 'low', "
                                       "'medium' and 'high'.",
                                   "reasoning_effort", "invalid_value");
        }
        request.enable_thinking = effort != "none";
    }
    if (auto e = read_string(body, "user", &request.user)) return *e;
    return request;
}

ApiResult<CompletionRequest> parse_completion_request(std::string_view text) {
    ApiResult<json> parsed = parse_body(text);
    if (!parsed.ok()) return parsed.error();
    const json& body = parsed.value();
    CompletionRequest request;
    request.generation.max_tokens = 16;
    if (auto e = read_model(body, &request.model)) return *e;
    if (auto e = read_prompts(body, &request.prompts)) return *e;
    if (auto e = read_generation(body, &request.generation)) return *e;
    if (find_field(body, "logprobs") != nullptr) {
        int64_t top = 0;
        if (auto e = read_integer(body, "logprobs", 0, kMaxLegacyLogprobs, &top)) return *e;
        request.generation.sampling.logprobs = true;
        request.generation.sampling.top_logprobs = static_cast<int>(top);
    }
    if (auto e = read_bool(body, "echo", &request.echo)) return *e;
    if (auto e = read_chat_template_kwargs(body, &request.chat_template_kwargs)) return *e;
    std::string suffix;
    if (auto e = read_string(body, "suffix", &suffix)) return *e;
    if (!suffix.empty()) {
        return invalid_request("'suffix' (fill-in-the-middle) is not supported by cria.", "suffix",
                               "unsupported_parameter");
    }
    int64_t best_of = request.generation.n;
    if (auto e = read_integer(body, "best_of", 1, kMaxChoices, &best_of)) return *e;
    if (best_of != request.generation.n) {
        return invalid_request("'best_of' is not supported unless it equals 'n'.", "best_of",
                               "unsupported_parameter");
    }
    if (auto e = read_stream(body, &request.stream, &request.include_usage)) return *e;
    if (auto e = read_string(body, "user", &request.user)) return *e;
    return request;
}

std::optional<ApiError> validate_for_vocabulary(const GenerationRequest& request, int64_t n_vocab) {
    const Status valid =
        sampling::validate_logit_bias(request.sampling.logit_bias, static_cast<int32_t>(n_vocab));
    if (!valid.is_ok()) return invalid_request(valid.message(), "logit_bias", "invalid_value");
    return std::nullopt;
}

// ---- Responses -------------------------------------------------------------------------------

std::string new_response_id(std::string_view prefix) {
    static const char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    thread_local std::mt19937_64 generator{std::random_device{}()};
    std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
    std::string id(prefix);
    for (int i = 0; i < 24; ++i) id += kAlphabet[pick(generator)];
    return id;
}

std::string token_display_text(std::string_view bytes) {
    std::string out;
    size_t i = 0;
    while (i < bytes.size()) {
        const auto lead = static_cast<unsigned char>(bytes[i]);
        size_t length = 0;
        uint32_t min_code = 0;
        if (lead < 0x80) {
            length = 1;
        } else if ((lead & 0xE0) == 0xC0) {
            length = 2;
            min_code = 0x80;
        } else if ((lead & 0xF0) == 0xE0) {
            length = 3;
            min_code = 0x800;
        } else if ((lead & 0xF8) == 0xF0) {
            length = 4;
            min_code = 0x10000;
        }
        bool valid = length > 0 && i + length <= bytes.size();
        uint32_t code = length == 1 ? lead : (lead & (0x7F >> length));
        for (size_t k = 1; valid && k < length; ++k) {
            const auto cont = static_cast<unsigned char>(bytes[i + k]);
            valid = (cont & 0xC0) == 0x80;
            code = (code << 6) | (cont & 0x3F);
        }
        // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
        valid =
            valid && code >= min_code && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF);
        if (valid) {
            out.append(bytes.substr(i, length));
            i += length;
        } else {
            char escaped[8];
            std::snprintf(escaped, sizeof(escaped), "\\x%02x", lead);
            out += escaped;
            ++i;
        }
    }
    return out;
}

namespace {

json byte_array(std::string_view bytes) {
    json out = json::array();
    for (char c : bytes) out.push_back(static_cast<unsigned char>(c));
    return out;
}

json chat_logprob_entry(const TokenLogprob& token) {
    json top = json::array();
    for (const TokenAlternative& alt : token.top) {
        top.push_back({{"token", token_display_text(alt.bytes)},
                       {"logprob", alt.logprob},
                       {"bytes", byte_array(alt.bytes)}});
    }
    return {{"token", token_display_text(token.bytes)},
            {"logprob", token.logprob},
            {"bytes", byte_array(token.bytes)},
            {"top_logprobs", std::move(top)}};
}

json response_head(const ResponseMeta& meta, const char* object) {
    return {{"id", meta.id},
            {"object", object},
            {"created", meta.created},
            {"model", meta.model},
            {"system_fingerprint", meta.system_fingerprint}};
}

json chunk(const ResponseMeta& meta, const char* object, json choice, bool include_usage) {
    json out = response_head(meta, object);
    out["choices"] = json::array({std::move(choice)});
    if (include_usage) out["usage"] = nullptr;
    return out;
}

}  // namespace

json usage_json(const Usage& usage) {
    return {{"prompt_tokens", usage.prompt_tokens},
            {"completion_tokens", usage.completion_tokens},
            {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

json chat_logprobs_json(const std::vector<TokenLogprob>& tokens) {
    json content = json::array();
    for (const TokenLogprob& token : tokens) content.push_back(chat_logprob_entry(token));
    return {{"content", std::move(content)}, {"refusal", nullptr}};
}

json chat_completion_json(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                          bool with_logprobs, const Usage& usage) {
    json out = response_head(meta, "chat.completion");
    json list = json::array();
    for (const ChoiceResult& choice : choices) {
        list.push_back(
            {{"index", choice.index},
             {"message", {{"role", "assistant"}, {"content", choice.text}, {"refusal", nullptr}}},
             {"logprobs", with_logprobs ? chat_logprobs_json(choice.logprobs) : json(nullptr)},
             {"finish_reason", choice.finish_reason}});
    }
    out["choices"] = std::move(list);
    out["usage"] = usage_json(usage);
    return out;
}

json chat_chunk_role_json(const ResponseMeta& meta, int index, bool include_usage) {
    return chunk(meta, "chat.completion.chunk",
                 {{"index", index},
                  {"delta", {{"role", "assistant"}, {"content", ""}}},
                  {"logprobs", nullptr},
                  {"finish_reason", nullptr}},
                 include_usage);
}

json chat_chunk_content_json(const ResponseMeta& meta, int index, const std::string& content,
                             const std::vector<TokenLogprob>* logprobs, bool include_usage) {
    return chunk(meta, "chat.completion.chunk",
                 {{"index", index},
                  {"delta", {{"content", content}}},
                  {"logprobs", logprobs != nullptr ? chat_logprobs_json(*logprobs) : json(nullptr)},
                  {"finish_reason", nullptr}},
                 include_usage);
}

json chat_chunk_finish_json(const ResponseMeta& meta, int index, const std::string& finish_reason,
                            bool include_usage) {
    return chunk(meta, "chat.completion.chunk",
                 {{"index", index},
                  {"delta", json::object()},
                  {"logprobs", nullptr},
                  {"finish_reason", finish_reason}},
                 include_usage);
}

json usage_chunk_json(const ResponseMeta& meta, std::string_view object, const Usage& usage) {
    json out = response_head(meta, std::string(object).c_str());
    out["choices"] = json::array();
    out["usage"] = usage_json(usage);
    return out;
}

json completion_logprobs_json(const std::vector<TokenLogprob>& tokens, size_t first_text_offset) {
    json texts = json::array();
    json logprobs = json::array();
    json tops = json::array();
    json offsets = json::array();
    size_t offset = first_text_offset;
    for (const TokenLogprob& token : tokens) {
        texts.push_back(token_display_text(token.bytes));
        logprobs.push_back(token.logprob);
        json top = json::object();
        for (const TokenAlternative& alt : token.top)
            top[token_display_text(alt.bytes)] = alt.logprob;
        tops.push_back(std::move(top));
        offsets.push_back(offset);
        offset += token.bytes.size();
    }
    return {{"tokens", std::move(texts)},
            {"token_logprobs", std::move(logprobs)},
            {"top_logprobs", std::move(tops)},
            {"text_offset", std::move(offsets)}};
}

json completion_json(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                     bool with_logprobs, const Usage& usage) {
    json out = response_head(meta, "text_completion");
    json list = json::array();
    for (const ChoiceResult& choice : choices) {
        list.push_back({{"text", choice.text},
                        {"index", choice.index},
                        {"logprobs", with_logprobs ? completion_logprobs_json(choice.logprobs, 0)
                                                   : json(nullptr)},
                        {"finish_reason", choice.finish_reason}});
    }
    out["choices"] = std::move(list);
    out["usage"] = usage_json(usage);
    return out;
}

json completion_chunk_json(const ResponseMeta& meta, int index, const std::string& text,
                           const std::vector<TokenLogprob>* logprobs, size_t first_text_offset,
                           const std::optional<std::string>& finish_reason, bool include_usage) {
    return chunk(
        meta, "text_completion",
        {{"text", text},
         {"index", index},
         {"logprobs", logprobs != nullptr ? completion_logprobs_json(*logprobs, first_text_offset)
                                          : json(nullptr)},
         {"finish_reason", finish_reason ? json(*finish_reason) : json(nullptr)}},
        include_usage);
}

json model_json(const ModelCard& card) {
    return {{"id", card.id}, {"object", "model"}, {"created", card.created}, {"owned_by", "cria"}};
}

json model_list_json(const std::vector<ModelCard>& cards) {
    json data = json::array();
    for (const ModelCard& card : cards) data.push_back(model_json(card));
    return {{"object", "list"}, {"data", std::move(data)}};
}

std::string sse_event(const json& payload) {
    // Generated text can end inside a UTF-8 character only on a bug; replace rather than throw.
    return "data: " + payload.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

}  // namespace cria::server
