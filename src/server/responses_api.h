// The OpenAI Responses API's wire format as pure functions: a request body parsed and validated
// (every error a 400 naming the field), its input items turned into chat messages for the
// shared chat pipeline, and the response object built from the pipeline's shaped deltas, with
// the stream events that describe each step. Nothing here touches a socket, a model or the
// store, so every rule is unit-tested in isolation.
//
// Mapping onto cria's chat pipeline:
//   input (string or items)      -> messages (developer -> system, function_call ->
//                                   assistant tool_calls, function_call_output -> tool)
//   instructions                 -> a system message before the conversation
//   tools (function tools only)  -> tools; tool_choice and parallel_tool_calls as in chat
//   text.format                  -> response_format (json_object, json_schema)
//   reasoning.effort             -> the template's thinking switch ("none" turns it off)
//   max_output_tokens            -> max_tokens
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api.h"

namespace cria::server {

// Caps that keep one request from asking for unbounded work.
inline constexpr size_t kMaxResponseInputItems = 4096;
inline constexpr size_t kMaxMetadataEntries = 16;  // as OpenAI's
// Responses a previous_response_id chain may hold.
inline constexpr size_t kMaxResponseChain = 256;

struct ResponsesRequest {
    std::string model;
    // This request's input items, normalized: each an object with an "id" and a "type"
    // ("message" with content parts, "function_call", "function_call_output"), as stored and
    // as listed by /v1/responses/{id}/input_items.
    nlohmann::ordered_json input_items = nlohmann::ordered_json::array();
    std::optional<std::string> instructions;
    std::optional<std::string> previous_response_id;
    bool store = true;
    bool stream = false;
    // The chat completion fields this request maps to (everything but model and messages).
    nlohmann::ordered_json chat_fields = nlohmann::ordered_json::object();
    // The request fields the response object echoes, each with OpenAI's default when absent.
    nlohmann::ordered_json echo = nlohmann::ordered_json::object();
};

ApiResult<ResponsesRequest> parse_responses_request(std::string_view body);

// Appends the chat messages that `items` (normalized input items, or a response's output
// items) stand for to `messages`. A function_call joins the assistant message before it.
void append_item_messages(const nlohmann::ordered_json& items, nlohmann::ordered_json& messages);

// A fresh id with the prefix of its kind ("resp_", "msg_", "fc_", "rs_").
std::string new_item_id(std::string_view prefix);

// The response object before any output: the echoed fields, status "in_progress".
nlohmann::ordered_json response_skeleton(const std::string& id, int64_t created_at,
                                         const std::string& model, const ResponsesRequest& request);

// Figures of a finished response.
struct ResponseUsage {
    int64_t input_tokens = 0;
    int64_t cached_tokens = 0;
    int64_t output_tokens = 0;
    int64_t reasoning_tokens = 0;  // of the output: the thinking text's length in tokens
};

// Builds a response from the chat pipeline's shaped deltas. Each step returns the stream events
// it causes (each with its sequence_number); a whole answer ignores them and takes response().
class ResponseBuilder {
  public:
    explicit ResponseBuilder(nlohmann::ordered_json skeleton);

    // response.created, response.in_progress
    std::vector<nlohmann::ordered_json> start();
    // One delta: {"content"}, {"reasoning_content"} or {"tool_calls": [...]}.
    std::vector<nlohmann::ordered_json> add(const nlohmann::ordered_json& delta);
    // Closes the open item and ends the response: "length" makes it incomplete
    // (max_output_tokens), anything else completed.
    std::vector<nlohmann::ordered_json> finish(const std::string& finish_reason,
                                               const ResponseUsage& usage);
    // Ends the response as failed: an "error" event, then response.failed.
    std::vector<nlohmann::ordered_json> fail(const std::string& message);

    const nlohmann::ordered_json& response() const { return response_; }

  private:
    enum class Open { kNone, kReasoning, kMessage, kCall };
    nlohmann::ordered_json event(const char* type, nlohmann::ordered_json fields);
    void open_item(Open kind, nlohmann::ordered_json item,
                   std::vector<nlohmann::ordered_json>& out);
    void close_item(std::vector<nlohmann::ordered_json>& out);
    void add_text(const std::string& text, std::vector<nlohmann::ordered_json>& out);
    void add_reasoning(const std::string& text, std::vector<nlohmann::ordered_json>& out);
    void add_call(const nlohmann::ordered_json& call, std::vector<nlohmann::ordered_json>& out);

    nlohmann::ordered_json response_;
    int64_t sequence_ = 0;
    Open open_ = Open::kNone;
    std::string open_text_;      // the open item's text or arguments so far
    std::string pending_blank_;  // whitespace held back until text follows it
    bool incomplete_ = false;
};

// GET /v1/responses/{id}/input_items: a page of `items` as OpenAI lists them. Query fields:
// limit (1..100, default 20), order ("asc" or "desc", the default), after (an item id).
ApiResult<nlohmann::ordered_json> input_items_page(const nlohmann::ordered_json& items,
                                                   std::optional<std::string> limit,
                                                   std::optional<std::string> order,
                                                   std::optional<std::string> after);

}  // namespace cria::server
