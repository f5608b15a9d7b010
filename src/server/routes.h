// The HTTP routes of `cria serve`: thin handlers that parse a request with the api functions,
// run it through the generation service and write the response or the event stream.
#pragma once

#include <httplib.h>

#include "server/model_manager.h"

namespace cria::server {

// Registers every route on `router`. Requests name models through `models`, which loads them on
// demand and must outlive the server.
void register_routes(httplib::Server& router, ModelManager& models);

}  // namespace cria::server
