#include "server/model_defaults.h"

#include <algorithm>
#include <limits>

#include "store/model_options.h"

namespace cria::server {

using json = nlohmann::ordered_json;

std::vector<std::string_view> openai_fields_of_option(std::string_view option) {
    if (option == "num_predict") return {"max_tokens", "max_completion_tokens"};
    static const char* const kSame[] = {"temperature",
                                        "top_k",
                                        "top_p",
                                        "min_p",
                                        "typical_p",
                                        "mirostat",
                                        "mirostat_tau",
                                        "mirostat_eta",
                                        "seed",
                                        "stop",
                                        "repeat_penalty",
                                        "repeat_last_n",
                                        "presence_penalty",
                                        "frequency_penalty"};
    for (const char* name : kSame) {
        if (option == name) return {name};
    }
    return {};
}

void apply_options(GenerationRequest& generation, const nlohmann::json& options,
                   const std::function<bool(std::string_view)>& keep_field) {
    if (!options.is_object()) return;
    const store::ModelOptions typed = store::ModelOptions::from_json(options);
    auto wanted = [&](std::string_view option) {
        return options.contains(std::string(option)) && !(keep_field && keep_field(option));
    };
    sampling::SamplingParams& s = generation.sampling;
    // Out-of-range values are left for validate_sampling_params to report.
    if (wanted("temperature") && typed.temperature) {
        s.temperature = static_cast<float>(*typed.temperature);
    }
    if (wanted("top_k") && typed.top_k) {
        s.top_k = static_cast<int32_t>(
            std::min<int64_t>(*typed.top_k, std::numeric_limits<int32_t>::max()));
    }
    if (wanted("top_p") && typed.top_p) s.top_p = static_cast<float>(*typed.top_p);
    if (wanted("min_p") && typed.min_p) s.min_p = static_cast<float>(*typed.min_p);
    if (wanted("typical_p") && typed.typical_p) s.typical_p = static_cast<float>(*typed.typical_p);
    if (wanted("mirostat") && typed.mirostat) {
        s.mirostat = static_cast<int32_t>(std::clamp<int64_t>(*typed.mirostat, -1, 3));
    }
    if (wanted("mirostat_tau") && typed.mirostat_tau) {
        s.mirostat_tau = static_cast<float>(*typed.mirostat_tau);
    }
    if (wanted("mirostat_eta") && typed.mirostat_eta) {
        s.mirostat_eta = static_cast<float>(*typed.mirostat_eta);
    }
    if (wanted("repeat_penalty") && typed.repeat_penalty) {
        s.repeat_penalty = static_cast<float>(*typed.repeat_penalty);
    }
    if (wanted("repeat_last_n") && typed.repeat_last_n) {
        s.repeat_last_n = static_cast<int32_t>(std::min<int64_t>(*typed.repeat_last_n, 1 << 20));
    }
    if (wanted("presence_penalty") && typed.presence_penalty) {
        s.presence_penalty = static_cast<float>(*typed.presence_penalty);
    }
    if (wanted("frequency_penalty") && typed.frequency_penalty) {
        s.frequency_penalty = static_cast<float>(*typed.frequency_penalty);
    }
    if (wanted("seed") && typed.seed) {
        if (*typed.seed >= 0) {
            s.seed = static_cast<uint64_t>(*typed.seed);
        } else {
            s.seed.reset();
        }
    }
    if (wanted("num_predict") && typed.num_predict) {
        if (*typed.num_predict > 0) {
            generation.max_tokens = *typed.num_predict;
        } else {
            generation.max_tokens.reset();
        }
    }
    if (wanted("stop")) generation.stop = typed.stop;
}

void apply_model_parameters(GenerationRequest& generation, const nlohmann::json& parameters,
                            const nlohmann::json& body) {
    apply_options(generation, parameters, [&body](std::string_view option) {
        const std::vector<std::string_view> fields = openai_fields_of_option(option);
        if (fields.empty()) return true;  // nothing an OpenAI request could carry
        for (std::string_view field : fields) {
            const auto it = body.find(std::string(field));
            if (it != body.end() && !it->is_null()) return true;
        }
        return false;
    });
}

void apply_recipe_messages(json& messages, const store::ModelRecipe& recipe) {
    if (!messages.is_array()) messages = json::array();
    const bool has_system =
        !messages.empty() && messages[0].is_object() && messages[0].value("role", "") == "system";
    json out = json::array();
    size_t next = 0;
    if (has_system) {
        out.push_back(messages[0]);
        next = 1;
    } else if (recipe.system && !recipe.system->empty()) {
        out.push_back({{"role", "system"}, {"content", *recipe.system}});
    }
    for (const store::ModelMessage& m : recipe.messages) {
        // A Modelfile system MESSAGE only counts when the request brought none.
        if (m.role == "system" && !out.empty() && out[0].value("role", "") == "system") continue;
        out.push_back({{"role", m.role}, {"content", m.content}});
    }
    for (; next < messages.size(); ++next) out.push_back(messages[next]);
    messages = std::move(out);
}

}  // namespace cria::server
