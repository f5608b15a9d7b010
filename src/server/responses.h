// The OpenAI Responses API, stateless and stateful, on the shared chat pipeline:
//
//   POST   /v1/responses                      create (whole, or streamed as typed events)
//   GET    /v1/responses/{id}                 a stored response
//   DELETE /v1/responses/{id}
//   GET    /v1/responses/{id}/input_items     its input items, paginated
//
// Responses created with store (the default, as OpenAI's) are kept in the response store, so
// that previous_response_id continues a conversation, also after a restart: the conversation is
// rebuilt from the chain of stored responses (their input and output items), and the model's
// prompt cache reuses what the earlier turns decoded.
#pragma once

#include <httplib.h>

#include "server/model_manager.h"
#include "server/router.h"
#include "store/response_store.h"

namespace cria::server {

// Registers the routes. `models` and `responses` must outlive the server.
void register_responses_routes(Router& router, ModelManager& models,
                               store::ResponseStore& responses);

}  // namespace cria::server
