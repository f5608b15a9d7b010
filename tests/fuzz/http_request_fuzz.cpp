// libFuzzer target for the request handling of /v1/chat/completions short of the model: the
// request head's checks, the body's JSON parse and the request parser with every field's
// validation. Any bytes must be accepted or refused with an error, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/api.h"
#include "server/connection.h"
#include "server/json_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const size_t end = input.find("\r\n\r\n");
    const std::string_view head = end == std::string_view::npos ? input : input.substr(0, end + 4);
    const std::string_view body =
        end == std::string_view::npos ? std::string_view() : input.substr(end + 4);
    (void)cria::server::request_target(head);
    if (cria::server::request_head_problem(head)) return 0;
    auto request = cria::server::parse_chat_completion_request(body);
    // A refusal must say why: an empty message would reach the client as an empty error.
    if (!request.ok() && request.error().message.empty()) __builtin_trap();
    return 0;
}
