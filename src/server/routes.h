// The HTTP routes of `cria serve`: thin handlers that parse a request with the api functions,
// run it through the generation service and write the response or the event stream.
#pragma once

#include <httplib.h>

#include <optional>
#include <string>

#include "core/status.h"
#include "server/api.h"
#include "server/model_manager.h"
#include "server/router.h"

namespace cria::server {

// Registers every route on `router`. Requests name models through `models`, which loads them on
// demand and must outlive the server.
void register_routes(Router& router, ModelManager& models);

// Shared by the OpenAI-shaped front ends (chat, completions, responses).

// Leases a generation model (loading it when needed) and checks what depends on it (an
// embedding model is refused, logit_bias ids are checked); nullopt after writing the error.
std::optional<ModelLease> lease_generation_model(ModelManager& models, const std::string& name,
                                                 const GenerationRequest& generation,
                                                 httplib::Response& res);
// Writes the error of a request that could not be queued: 503 with Retry-After when the
// queue is full or the model is unloading.
void send_start_error(httplib::Response& res, const Status& status);
// Writes the error of a request that ended without its answer (`id` names it in the log).
void send_run_error(httplib::Response& res, const std::string& id, const Status& status);

}  // namespace cria::server
