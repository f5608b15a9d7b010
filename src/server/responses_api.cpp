#include "server/responses_api.h"
#include "server/json_body.h"

#include <algorithm>
#include <random>

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;

ApiError bad_field(const std::string& param, const std::string& message) {
    return invalid_request(message, param, "invalid_value");
}

ApiError bad_type(const std::string& param, const char* expected) {
    return invalid_request(
        "Invalid type for '" + param + "': expected " + std::string(expected) + ".", param,
        "invalid_type");
}

bool present(const json& body, const char* key) {
    const auto it = body.find(key);
    return it != body.end() && !it->is_null();
}

// The text of a content part list (or a plain string): the parts' texts joined.
std::optional<ApiError> read_parts(const json& content, const std::string& where, bool assistant,
                                   json& parts) {
    parts = json::array();
    if (content.is_string()) {
        parts.push_back({{"type", assistant ? "output_text" : "input_text"},
                         {"text", content.get<std::string>()}});
        if (assistant) parts.back()["annotations"] = json::array();
        return std::nullopt;
    }
    if (!content.is_array()) return bad_type(where, "a string or an array of content parts");
    for (size_t i = 0; i < content.size(); ++i) {
        const json& part = content[i];
        const std::string at = where + "[" + std::to_string(i) + "]";
        if (!part.is_object()) return bad_type(at, "an object");
        const std::string type = part.value("type", "");
        if (type == "input_text" || type == "output_text" || type == "text") {
            if (!part.contains("text") || !part["text"].is_string()) {
                return bad_type(at + ".text", "a string");
            }
            json out = {
                {"type", type == "text" ? (assistant ? "output_text" : "input_text") : type},
                {"text", part["text"]}};
            if (out["type"] == "output_text") out["annotations"] = json::array();
            parts.push_back(std::move(out));
        } else if (type == "refusal") {
            if (!part.contains("refusal") || !part["refusal"].is_string()) {
                return bad_type(at + ".refusal", "a string");
            }
            parts.push_back({{"type", "refusal"}, {"refusal", part["refusal"]}});
        } else if (type == "input_image" || type == "input_file" || type == "input_audio") {
            return invalid_request("'" + type +
                                       "' content is not supported: cria serves text "
                                       "models through the Responses API",
                                   at + ".type", "unsupported_value");
        } else {
            return bad_field(at + ".type", "Invalid content part type '" + type.substr(0, 64) +
                                               "'. Supported: 'input_text', 'output_text'.");
        }
    }
    return std::nullopt;
}

std::optional<ApiError> read_string_field(const json& object, const char* key,
                                          const std::string& where, std::string& out) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_string()) {
        return bad_type(where + "." + key, "a string");
    }
    out = it->get<std::string>();
    return std::nullopt;
}

// One input item normalized (an "id" added when it has none).
std::optional<ApiError> read_item(const json& item, const std::string& where, json& out) {
    if (!item.is_object()) return bad_type(where, "an object");
    std::string type = "message";  // an "easy input message" has a role and no type
    if (present(item, "type")) {
        if (!item["type"].is_string()) return bad_type(where + ".type", "a string");
        type = item["type"].get<std::string>();
    }
    auto id_or = [&](const char* prefix) {
        return item.contains("id") && item["id"].is_string() ? item["id"].get<std::string>()
                                                             : new_item_id(prefix);
    };
    if (type == "message") {
        std::string role;
        if (auto e = read_string_field(item, "role", where, role)) return e;
        if (role != "user" && role != "assistant" && role != "system" && role != "developer") {
            return bad_field(where + ".role",
                             "Invalid role '" + role.substr(0, 64) +
                                 "'. Supported: 'user', 'assistant', 'system', 'developer'.");
        }
        if (!item.contains("content")) return bad_type(where + ".content", "a string or an array");
        json parts;
        if (auto e = read_parts(item["content"], where + ".content", role == "assistant", parts)) {
            return e;
        }
        out = {{"id", id_or("msg_")},
               {"type", "message"},
               {"role", role},
               {"content", std::move(parts)},
               {"status", "completed"}};
        return std::nullopt;
    }
    if (type == "function_call") {
        std::string call_id, name, arguments;
        if (auto e = read_string_field(item, "call_id", where, call_id)) return e;
        if (auto e = read_string_field(item, "name", where, name)) return e;
        if (auto e = read_string_field(item, "arguments", where, arguments)) return e;
        out = {{"id", id_or("fc_")}, {"type", "function_call"}, {"call_id", call_id},
               {"name", name},       {"arguments", arguments},  {"status", "completed"}};
        return std::nullopt;
    }
    if (type == "function_call_output") {
        std::string call_id;
        if (auto e = read_string_field(item, "call_id", where, call_id)) return e;
        const auto output = item.find("output");
        if (output == item.end()) return bad_type(where + ".output", "a string");
        std::string text;
        if (output->is_string()) {
            text = output->get<std::string>();
        } else {
            json parts;
            if (auto e = read_parts(*output, where + ".output", false, parts)) return e;
            for (const json& part : parts) text += part.value("text", "");
        }
        out = {{"id", id_or("fco_")},
               {"type", "function_call_output"},
               {"call_id", call_id},
               {"output", text},
               {"status", "completed"}};
        return std::nullopt;
    }
    if (type == "reasoning") {
        // Earlier reasoning goes back to the model as nothing: chat templates drop it too.
        out = item;
        if (!out.contains("id")) out["id"] = new_item_id("rs_");
        return std::nullopt;
    }
    return invalid_request("Input items of type '" + type.substr(0, 64) +
                               "' are not supported. Supported: 'message', 'function_call', "
                               "'function_call_output', 'reasoning'.",
                           where + ".type", "unsupported_value");
}

std::optional<ApiError> read_input(const json& body, ResponsesRequest& out) {
    const auto input = body.find("input");
    if (input == body.end() || input->is_null()) return std::nullopt;
    if (input->is_string()) {
        out.input_items.push_back(
            {{"id", new_item_id("msg_")},
             {"type", "message"},
             {"role", "user"},
             {"content",
              json::array({{{"type", "input_text"}, {"text", input->get<std::string>()}}})},
             {"status", "completed"}});
        return std::nullopt;
    }
    if (!input->is_array()) return bad_type("input", "a string or an array of input items");
    if (input->size() > kMaxResponseInputItems) {
        return bad_field(
            "input", "input holds more than " + std::to_string(kMaxResponseInputItems) + " items");
    }
    for (size_t i = 0; i < input->size(); ++i) {
        json item;
        if (auto e = read_item((*input)[i], "input[" + std::to_string(i) + "]", item)) return e;
        out.input_items.push_back(std::move(item));
    }
    return std::nullopt;
}

// Function tools as chat completions takes them; any other tool type is refused by name.
std::optional<ApiError> read_tools(const json& body, ResponsesRequest& out) {
    if (!present(body, "tools")) {
        out.echo["tools"] = json::array();
        return std::nullopt;
    }
    const json& tools = body["tools"];
    if (!tools.is_array()) return bad_type("tools", "an array");
    json chat_tools = json::array();
    for (size_t i = 0; i < tools.size(); ++i) {
        const json& tool = tools[i];
        const std::string where = "tools[" + std::to_string(i) + "]";
        if (!tool.is_object()) return bad_type(where, "an object");
        const std::string type = tool.value("type", "");
        if (type != "function") {
            return invalid_request("Tools of type '" + type.substr(0, 64) +
                                       "' are not supported: cria runs function tools only.",
                                   where + ".type", "unsupported_value");
        }
        std::string name;
        if (auto e = read_string_field(tool, "name", where, name)) return e;
        json function = {{"name", name}};
        if (present(tool, "description")) function["description"] = tool["description"];
        if (present(tool, "parameters")) function["parameters"] = tool["parameters"];
        if (present(tool, "strict")) function["strict"] = tool["strict"];
        chat_tools.push_back({{"type", "function"}, {"function", std::move(function)}});
    }
    if (!chat_tools.empty()) out.chat_fields["tools"] = std::move(chat_tools);
    out.echo["tools"] = tools;
    return std::nullopt;
}

std::optional<ApiError> read_tool_choice(const json& body, ResponsesRequest& out) {
    out.echo["tool_choice"] = "auto";
    if (!present(body, "tool_choice")) return std::nullopt;
    const json& choice = body["tool_choice"];
    out.echo["tool_choice"] = choice;
    if (choice.is_string()) {
        const std::string mode = choice.get<std::string>();
        if (mode != "none" && mode != "auto" && mode != "required") {
            return bad_field("tool_choice", "Invalid value '" + mode.substr(0, 64) +
                                                "'. Supported: 'none', 'auto', 'required'.");
        }
        out.chat_fields["tool_choice"] = mode;
        return std::nullopt;
    }
    if (!choice.is_object()) return bad_type("tool_choice", "a string or an object");
    if (choice.value("type", "") != "function") {
        return invalid_request("tool_choice of type '" + choice.value("type", "").substr(0, 64) +
                                   "' is not supported: cria runs function tools only.",
                               "tool_choice.type", "unsupported_value");
    }
    std::string name;
    if (auto e = read_string_field(choice, "name", "tool_choice", name)) return e;
    out.chat_fields["tool_choice"] = {{"type", "function"}, {"function", {{"name", name}}}};
    return std::nullopt;
}

std::optional<ApiError> read_text_format(const json& body, ResponsesRequest& out) {
    out.echo["text"] = {{"format", {{"type", "text"}}}};
    if (!present(body, "text")) return std::nullopt;
    const json& text = body["text"];
    if (!text.is_object()) return bad_type("text", "an object");
    out.echo["text"] = text;
    if (!present(text, "format")) {
        out.echo["text"]["format"] = {{"type", "text"}};
        return std::nullopt;
    }
    const json& format = text["format"];
    if (!format.is_object()) return bad_type("text.format", "an object");
    const std::string type = format.value("type", "");
    if (type == "text") return std::nullopt;
    if (type == "json_object") {
        out.chat_fields["response_format"] = {{"type", "json_object"}};
        return std::nullopt;
    }
    if (type == "json_schema") {
        json schema = {{"name", format.value("name", "response")}};
        if (!present(format, "schema")) return bad_type("text.format.schema", "an object");
        schema["schema"] = format["schema"];
        if (present(format, "strict")) schema["strict"] = format["strict"];
        if (present(format, "description")) schema["description"] = format["description"];
        out.chat_fields["response_format"] = {{"type", "json_schema"},
                                              {"json_schema", std::move(schema)}};
        return std::nullopt;
    }
    return bad_field("text.format.type", "Invalid value '" + type.substr(0, 64) +
                                             "'. Supported: 'text', 'json_object', "
                                             "'json_schema'.");
}

std::optional<ApiError> read_metadata(const json& body, ResponsesRequest& out) {
    out.echo["metadata"] = json::object();
    if (!present(body, "metadata")) return std::nullopt;
    const json& metadata = body["metadata"];
    if (!metadata.is_object()) return bad_type("metadata", "an object");
    if (metadata.size() > kMaxMetadataEntries) {
        return bad_field("metadata", "metadata holds at most 16 entries");
    }
    for (const auto& [key, value] : metadata.items()) {
        if (key.size() > 64)
            return bad_field("metadata", "metadata keys are at most 64 characters");
        if (!value.is_string() || value.get<std::string>().size() > 512) {
            return bad_field("metadata." + key.substr(0, 64),
                             "metadata values are strings of at most 512 characters");
        }
    }
    out.echo["metadata"] = metadata;
    return std::nullopt;
}

}  // namespace

std::string new_item_id(std::string_view prefix) {
    return new_response_id(prefix);
}

ApiResult<ResponsesRequest> parse_responses_request(std::string_view text) {
    json body = parse_json_body(text);
    if (body.is_discarded()) {
        return invalid_request(
            "We could not parse the JSON body of your request. The body must be valid JSON.",
            std::nullopt, "invalid_json");
    }
    if (!body.is_object()) {
        return invalid_request("The request body must be a JSON object.", std::nullopt,
                               "invalid_json");
    }
    ResponsesRequest out;
    if (!present(body, "model")) return invalid_request("model is required", "model");
    if (!body["model"].is_string()) return bad_type("model", "a string");
    out.model = body["model"].get<std::string>();

    if (auto e = read_input(body, out)) return *e;
    if (present(body, "instructions")) {
        if (!body["instructions"].is_string()) return bad_type("instructions", "a string");
        out.instructions = body["instructions"].get<std::string>();
    }
    if (present(body, "previous_response_id")) {
        if (!body["previous_response_id"].is_string()) {
            return bad_type("previous_response_id", "a string");
        }
        out.previous_response_id = body["previous_response_id"].get<std::string>();
    }
    if (out.input_items.empty() && !out.previous_response_id) {
        return invalid_request("input is required", "input");
    }
    for (const char* flag : {"store", "stream", "parallel_tool_calls", "background"}) {
        if (present(body, flag) && !body[flag].is_boolean()) return bad_type(flag, "a boolean");
    }
    if (present(body, "store")) out.store = body["store"].get<bool>();
    out.stream = present(body, "stream") && body["stream"].get<bool>();
    if (present(body, "background") && body["background"].get<bool>()) {
        return invalid_request("background responses are not supported", "background",
                               "unsupported_value");
    }
    if (present(body, "conversation")) {
        return invalid_request(
            "conversation is not supported: continue a conversation with previous_response_id",
            "conversation", "unsupported_value");
    }
    if (present(body, "max_output_tokens")) {
        const json& max = body["max_output_tokens"];
        if (!max.is_number_integer()) return bad_type("max_output_tokens", "an integer");
        if (max.get<int64_t>() < 1) {
            return bad_field("max_output_tokens", "max_output_tokens must be at least 1");
        }
        out.chat_fields["max_tokens"] = max;
    }
    for (const char* number : {"temperature", "top_p"}) {
        if (!present(body, number)) continue;
        if (!body[number].is_number()) return bad_type(number, "a number");
        out.chat_fields[number] = body[number];
    }
    if (present(body, "top_logprobs")) {
        if (!body["top_logprobs"].is_number_integer())
            return bad_type("top_logprobs", "an integer");
        out.chat_fields["logprobs"] = true;
        out.chat_fields["top_logprobs"] = body["top_logprobs"];
    }
    if (present(body, "parallel_tool_calls")) {
        out.chat_fields["parallel_tool_calls"] = body["parallel_tool_calls"];
    }
    // Sampling fields of chat completions that the Responses API lacks, taken as extensions (as
    // llama-server takes extra sampling fields): they are checked by the chat parser.
    for (const char* extension :
         {"seed", "stop", "logit_bias", "presence_penalty", "frequency_penalty"}) {
        if (present(body, extension)) out.chat_fields[extension] = body[extension];
    }
    if (auto e = read_tools(body, out)) return *e;
    if (auto e = read_tool_choice(body, out)) return *e;
    if (auto e = read_text_format(body, out)) return *e;
    if (auto e = read_metadata(body, out)) return *e;
    json reasoning = {{"effort", nullptr}, {"summary", nullptr}};
    if (present(body, "reasoning")) {
        if (!body["reasoning"].is_object()) return bad_type("reasoning", "an object");
        const json& given = body["reasoning"];
        if (present(given, "effort")) {
            if (!given["effort"].is_string()) return bad_type("reasoning.effort", "a string");
            const std::string effort = given["effort"].get<std::string>();
            if (effort != "none" && effort != "minimal" && effort != "low" && effort != "medium" &&
                effort != "high") {
                return bad_field("reasoning.effort",
                                 "Invalid value '" + effort.substr(0, 64) +
                                     "'. Supported: 'none', 'minimal', 'low', 'medium', 'high'.");
            }
            reasoning["effort"] = effort;
            out.chat_fields["reasoning_effort"] = effort;
        }
        if (present(given, "summary")) reasoning["summary"] = given["summary"];
    }
    if (present(body, "user")) {
        if (!body["user"].is_string()) return bad_type("user", "a string");
        out.chat_fields["user"] = body["user"];
    }

    out.echo["instructions"] = out.instructions ? json(*out.instructions) : json(nullptr);
    out.echo["max_output_tokens"] =
        out.chat_fields.contains("max_tokens") ? out.chat_fields["max_tokens"] : json(nullptr);
    out.echo["parallel_tool_calls"] = body.value("parallel_tool_calls", true);
    out.echo["previous_response_id"] =
        out.previous_response_id ? json(*out.previous_response_id) : json(nullptr);
    out.echo["reasoning"] = std::move(reasoning);
    out.echo["store"] = out.store;
    out.echo["temperature"] = present(body, "temperature") ? body["temperature"] : json(1.0);
    out.echo["top_p"] = present(body, "top_p") ? body["top_p"] : json(1.0);
    out.echo["truncation"] = "disabled";
    out.echo["user"] = present(body, "user") ? body["user"] : json(nullptr);
    return out;
}

void append_item_messages(const json& items, json& messages) {
    // Tool names by call id, for tool results: some templates print the name with the result.
    auto name_of_call = [&messages](const std::string& call_id) -> std::string {
        for (auto message = messages.rbegin(); message != messages.rend(); ++message) {
            if (!message->contains("tool_calls")) continue;
            for (const json& call : (*message)["tool_calls"]) {
                if (call.value("id", "") == call_id) return call["function"].value("name", "");
            }
        }
        return "";
    };
    for (const json& item : items) {
        const std::string type = item.value("type", "");
        if (type == "message") {
            std::string role = item.value("role", "user");
            if (role == "developer") role = "system";
            std::string text;
            for (const json& part : item["content"]) {
                text += part.contains("text") ? part.value("text", "") : part.value("refusal", "");
            }
            messages.push_back({{"role", role}, {"content", text}});
        } else if (type == "function_call") {
            json call = {
                {"id", item.value("call_id", "")},
                {"type", "function"},
                {"function",
                 {{"name", item.value("name", "")}, {"arguments", item.value("arguments", "")}}}};
            if (messages.empty() || messages.back().value("role", "") != "assistant") {
                messages.push_back(
                    {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array()}});
            }
            json& assistant = messages.back();
            if (!assistant.contains("tool_calls")) assistant["tool_calls"] = json::array();
            assistant["tool_calls"].push_back(std::move(call));
        } else if (type == "function_call_output") {
            const std::string call_id = item.value("call_id", "");
            json message = {
                {"role", "tool"}, {"tool_call_id", call_id}, {"content", item.value("output", "")}};
            const std::string name = name_of_call(call_id);
            if (!name.empty()) message["name"] = name;
            messages.push_back(std::move(message));
        }
        // reasoning items: chat templates leave earlier reasoning out of the prompt.
    }
}

json response_skeleton(const std::string& id, int64_t created_at, const std::string& model,
                       const ResponsesRequest& request) {
    const json& echo = request.echo;
    return {{"id", id},
            {"object", "response"},
            {"created_at", created_at},
            {"status", "in_progress"},
            {"background", false},
            {"error", nullptr},
            {"incomplete_details", nullptr},
            {"instructions", echo["instructions"]},
            {"max_output_tokens", echo["max_output_tokens"]},
            {"model", model},
            {"output", json::array()},
            {"parallel_tool_calls", echo["parallel_tool_calls"]},
            {"previous_response_id", echo["previous_response_id"]},
            {"reasoning", echo["reasoning"]},
            {"store", echo["store"]},
            {"temperature", echo["temperature"]},
            {"text", echo["text"]},
            {"tool_choice", echo["tool_choice"]},
            {"tools", echo["tools"]},
            {"top_p", echo["top_p"]},
            {"truncation", echo["truncation"]},
            {"usage", nullptr},
            {"user", echo["user"]},
            {"metadata", echo["metadata"]}};
}

ResponseBuilder::ResponseBuilder(json skeleton) : response_(std::move(skeleton)) {}

json ResponseBuilder::event(const char* type, json fields) {
    json out = {{"type", type}, {"sequence_number", sequence_++}};
    for (auto& [key, value] : fields.items()) out[key] = std::move(value);
    return out;
}

std::vector<json> ResponseBuilder::start() {
    std::vector<json> out;
    out.push_back(event("response.created", {{"response", response_}}));
    out.push_back(event("response.in_progress", {{"response", response_}}));
    return out;
}

void ResponseBuilder::open_item(Open kind, json item, std::vector<json>& out) {
    close_item(out);
    open_ = kind;
    open_text_.clear();
    const size_t index = response_["output"].size();
    out.push_back(event("response.output_item.added", {{"output_index", index}, {"item", item}}));
    const std::string id = item["id"];
    response_["output"].push_back(std::move(item));
    if (kind == Open::kMessage) {
        out.push_back(event(
            "response.content_part.added",
            {{"item_id", id},
             {"output_index", index},
             {"content_index", 0},
             {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", json::array()}}}}));
    } else if (kind == Open::kReasoning) {
        out.push_back(event("response.content_part.added",
                            {{"item_id", id},
                             {"output_index", index},
                             {"content_index", 0},
                             {"part", {{"type", "reasoning_text"}, {"text", ""}}}}));
    }
}

void ResponseBuilder::close_item(std::vector<json>& out) {
    if (open_ == Open::kNone) return;
    const size_t index = response_["output"].size() - 1;
    json& item = response_["output"][index];
    const std::string id = item["id"];
    if (open_ == Open::kMessage) {
        const json part = {
            {"type", "output_text"}, {"text", open_text_}, {"annotations", json::array()}};
        out.push_back(event("response.output_text.done", {{"item_id", id},
                                                          {"output_index", index},
                                                          {"content_index", 0},
                                                          {"text", open_text_}}));
        out.push_back(event(
            "response.content_part.done",
            {{"item_id", id}, {"output_index", index}, {"content_index", 0}, {"part", part}}));
        item["content"] = json::array({part});
        item["status"] = incomplete_ ? "incomplete" : "completed";
    } else if (open_ == Open::kReasoning) {
        const json part = {{"type", "reasoning_text"}, {"text", open_text_}};
        out.push_back(event("response.reasoning_text.done", {{"item_id", id},
                                                             {"output_index", index},
                                                             {"content_index", 0},
                                                             {"text", open_text_}}));
        out.push_back(event(
            "response.content_part.done",
            {{"item_id", id}, {"output_index", index}, {"content_index", 0}, {"part", part}}));
        item["content"] = json::array({part});
    } else {
        item["arguments"] = open_text_;
        item["status"] = incomplete_ ? "incomplete" : "completed";
        out.push_back(event("response.function_call_arguments.done", {{"item_id", id},
                                                                      {"output_index", index},
                                                                      {"name", item["name"]},
                                                                      {"arguments", open_text_}}));
    }
    out.push_back(event("response.output_item.done", {{"output_index", index}, {"item", item}}));
    open_ = Open::kNone;
    open_text_.clear();
}

void ResponseBuilder::add_text(const std::string& text, std::vector<json>& out) {
    if (open_ != Open::kMessage) {
        // Whitespace between reasoning and calls is no message of its own.
        const bool blank = text.find_first_not_of(" \t\r\n") == std::string::npos;
        if (blank) {
            pending_blank_ += text;
            return;
        }
        open_item(Open::kMessage,
                  {{"id", new_item_id("msg_")},
                   {"type", "message"},
                   {"status", "in_progress"},
                   {"role", "assistant"},
                   {"content", json::array()}},
                  out);
    }
    const std::string delta = pending_blank_ + text;
    pending_blank_.clear();
    open_text_ += delta;
    const size_t index = response_["output"].size() - 1;
    out.push_back(
        event("response.output_text.delta", {{"item_id", response_["output"][index]["id"]},
                                             {"output_index", index},
                                             {"content_index", 0},
                                             {"delta", delta},
                                             {"logprobs", json::array()}}));
}

void ResponseBuilder::add_reasoning(const std::string& text, std::vector<json>& out) {
    if (open_ != Open::kReasoning) {
        pending_blank_.clear();
        open_item(Open::kReasoning,
                  {{"id", new_item_id("rs_")},
                   {"type", "reasoning"},
                   {"summary", json::array()},
                   {"content", json::array()}},
                  out);
    }
    open_text_ += text;
    const size_t index = response_["output"].size() - 1;
    out.push_back(
        event("response.reasoning_text.delta", {{"item_id", response_["output"][index]["id"]},
                                                {"output_index", index},
                                                {"content_index", 0},
                                                {"delta", text}}));
}

void ResponseBuilder::add_call(const json& call, std::vector<json>& out) {
    const json function = call.value("function", json::object());
    if (call.contains("id")) {
        // A new call is announced with its id and name; its arguments follow.
        pending_blank_.clear();
        open_item(Open::kCall,
                  {{"id", new_item_id("fc_")},
                   {"type", "function_call"},
                   {"status", "in_progress"},
                   {"call_id", call["id"]},
                   {"name", function.value("name", "")},
                   {"arguments", ""}},
                  out);
    }
    const std::string arguments = function.value("arguments", "");
    if (open_ != Open::kCall || arguments.empty()) return;
    open_text_ += arguments;
    const size_t index = response_["output"].size() - 1;
    out.push_back(event("response.function_call_arguments.delta",
                        {{"item_id", response_["output"][index]["id"]},
                         {"output_index", index},
                         {"delta", arguments}}));
}

std::vector<json> ResponseBuilder::add(const json& delta) {
    std::vector<json> out;
    if (delta.contains("reasoning_content") && delta["reasoning_content"].is_string()) {
        add_reasoning(delta["reasoning_content"].get<std::string>(), out);
    }
    if (delta.contains("content") && delta["content"].is_string()) {
        const std::string text = delta["content"].get<std::string>();
        if (!text.empty()) add_text(text, out);
    }
    if (delta.contains("tool_calls") && delta["tool_calls"].is_array()) {
        for (const json& call : delta["tool_calls"]) add_call(call, out);
    }
    return out;
}

std::vector<json> ResponseBuilder::finish(const std::string& finish_reason,
                                          const ResponseUsage& usage) {
    std::vector<json> out;
    incomplete_ = finish_reason == "length";
    close_item(out);
    std::string output_text;
    for (const json& item : response_["output"]) {
        if (item.value("type", "") != "message") continue;
        for (const json& part : item["content"]) {
            if (part.value("type", "") == "output_text") output_text += part.value("text", "");
        }
    }
    response_["status"] = incomplete_ ? "incomplete" : "completed";
    if (incomplete_) response_["incomplete_details"] = {{"reason", "max_output_tokens"}};
    response_["usage"] = {{"input_tokens", usage.input_tokens},
                          {"input_tokens_details", {{"cached_tokens", usage.cached_tokens}}},
                          {"output_tokens", usage.output_tokens},
                          {"output_tokens_details", {{"reasoning_tokens", usage.reasoning_tokens}}},
                          {"total_tokens", usage.input_tokens + usage.output_tokens}};
    response_["output_text"] = output_text;
    out.push_back(event(incomplete_ ? "response.incomplete" : "response.completed",
                        {{"response", response_}}));
    return out;
}

std::vector<json> ResponseBuilder::fail(const std::string& message) {
    std::vector<json> out;
    response_["status"] = "failed";
    response_["error"] = {{"code", "server_error"}, {"message", message}};
    out.push_back(
        event("error", {{"code", "server_error"}, {"message", message}, {"param", nullptr}}));
    out.push_back(event("response.failed", {{"response", response_}}));
    return out;
}

ApiResult<json> input_items_page(const json& items, std::optional<std::string> limit_text,
                                 std::optional<std::string> order_text,
                                 std::optional<std::string> after) {
    int64_t limit = 20;
    if (limit_text) {
        char* end = nullptr;
        const long long parsed = std::strtoll(limit_text->c_str(), &end, 10);
        if (limit_text->empty() || *end != '\0' || parsed < 1 || parsed > 100) {
            return bad_field("limit", "limit must be an integer from 1 to 100");
        }
        limit = parsed;
    }
    const std::string order = order_text.value_or("desc");
    if (order != "asc" && order != "desc") {
        return bad_field("order", "order must be 'asc' or 'desc'");
    }
    std::vector<json> ordered(items.begin(), items.end());
    if (order == "desc") std::reverse(ordered.begin(), ordered.end());
    size_t first = 0;
    if (after) {
        const auto it = std::find_if(ordered.begin(), ordered.end(), [&](const json& item) {
            return item.value("id", "") == *after;
        });
        if (it == ordered.end()) {
            return invalid_request("No input item with id '" + after->substr(0, 64) + "'.", "after",
                                   "not_found");
        }
        first = static_cast<size_t>(it - ordered.begin()) + 1;
    }
    json data = json::array();
    for (size_t i = first; i < ordered.size() && data.size() < static_cast<size_t>(limit); ++i) {
        data.push_back(ordered[i]);
    }
    const bool has_more = first + data.size() < ordered.size();
    return json{{"object", "list"},
                {"data", data},
                {"first_id", data.empty() ? json(nullptr) : data.front()["id"]},
                {"last_id", data.empty() ? json(nullptr) : data.back()["id"]},
                {"has_more", has_more}};
}

}  // namespace cria::server
