// A model's Modelfile defaults applied to a request, for both APIs, as pure functions:
//
// - parameters: request options > Modelfile parameters > defaults. An Ollama request merges its
//   `options` over the Modelfile's and starts from the sampler's (Ollama-style) defaults; an
//   OpenAI request keeps every field it sent and takes the Modelfile's value for every field it
//   left out (so a request without `temperature` samples at the Modelfile's temperature).
// - SYSTEM: used when the conversation has no system message of its own.
// - MESSAGE: the Modelfile's history, placed before the request's conversation (after its
//   system message).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "server/api.h"
#include "store/modelfile.h"

namespace cria::server {

// Sets the fields of `generation` named by the (normalized) Ollama `options`, except those for
// which `keep_field` (given the option's name) returns true. num_predict > 0 sets max_tokens;
// num_predict <= 0 means no limit. A negative seed means a random one. Options that are
// not sampling settings (num_ctx, num_thread...) are ignored here.
void apply_options(GenerationRequest& generation, const nlohmann::json& options,
                   const std::function<bool(std::string_view option)>& keep_field = {});

// The OpenAI request field that an Ollama option corresponds to ("num_predict" ->
// "max_tokens"); empty when the OpenAI API has no such field.
std::vector<std::string_view> openai_fields_of_option(std::string_view option);

// Fills the fields an OpenAI request body left out from the Modelfile parameters. `body` is the
// request's JSON object, used only to see which fields were present.
void apply_model_parameters(GenerationRequest& generation, const nlohmann::json& parameters,
                            const nlohmann::json& body);

// SYSTEM and MESSAGE of a recipe applied to a conversation (OpenAI-shaped messages).
void apply_recipe_messages(nlohmann::ordered_json& messages, const store::ModelRecipe& recipe);

}  // namespace cria::server
