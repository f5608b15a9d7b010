#include "server/generation.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "chat/chat_template.h"
#include "core/log.h"
#include "core/system_memory.h"
#include "engine/embedder.h"
#include "engine/engine.h"
#include "engine/scheduler.h"
#include "gguf/reader.h"
#include "grammar/grammar_cache.h"
#include "grammar/token_constraint.h"
#include "tokenizer/tokenizer.h"

namespace cria::server {

using json = nlohmann::ordered_json;

struct ServedModel::Impl {
    std::string name;
    int64_t created = 0;
    std::string fingerprint;
    std::unique_ptr<engine::Engine> engine;
    std::unique_ptr<tokenizer::Tokenizer> tokenizer;
    std::optional<chat::ChatTemplate> chat_template;  // absent when the model has none
    std::string bos_text;
    std::string eos_text;
    std::vector<int32_t> end_tokens;  // sorted: generation ends when one is sampled
    // Grammars of earlier requests, for requests that repeat a schema or a tool list.
    grammar::GrammarCache grammar_cache;
    // Token bytes arranged for grammar masks, built on the first constrained request.
    std::mutex grammar_mutex;
    std::shared_ptr<const grammar::TokenVocabulary> grammar_vocab;  // guarded by grammar_mutex

    Expected<std::shared_ptr<const grammar::TokenVocabulary>> grammar_vocabulary() {
        std::lock_guard<std::mutex> lock(grammar_mutex);
        if (!grammar_vocab) {
            const tokenizer::Tokenizer& tok = *tokenizer;
            std::vector<std::string> pieces(static_cast<size_t>(tok.n_vocab()));
            std::vector<bool> never_text(pieces.size());
            for (int32_t id = 0; id < tok.n_vocab(); ++id) {
                never_text[static_cast<size_t>(id)] = tok.is_control(id);
                if (!tok.is_control(id)) pieces[static_cast<size_t>(id)] = tok.token_piece(id);
            }
            CRIA_ASSIGN_OR_RETURN(grammar_vocab, grammar::TokenVocabulary::create(
                                                     std::move(pieces), never_text, end_tokens));
        }
        return grammar_vocab;
    }
    // Runs every request's choices in shared batches; declared after the engine it drives so
    // that it stops first.
    std::unique_ptr<engine::Scheduler> scheduler;
    // Batches embedding requests on the same engine (forward passes take turns with the
    // scheduler's steps).
    std::unique_ptr<engine::Embedder> embedder;

    bool is_end(int32_t token) const {
        return std::binary_search(end_tokens.begin(), end_tokens.end(), token);
    }

    // `kwargs` (the request's chat_template_kwargs, null or an object) add variables and win
    // over bos_token, eos_token and enable_thinking; the conversation's own are left alone.
    // `tmpl` replaces the model's template when given; `fill` (prompt and suffix) asks for
    // fill-in-the-middle.
    Expected<std::string> render_chat(const json& messages, const json& tools,
                                      bool add_generation_prompt,
                                      std::optional<bool> enable_thinking = std::nullopt,
                                      const json& kwargs = json(),
                                      const chat::ChatTemplate* tmpl = nullptr,
                                      const json& fill = json()) const {
        json context = {{"messages", messages},
                        {"add_generation_prompt", add_generation_prompt},
                        {"bos_token", bos_text},
                        {"eos_token", eos_text}};
        if (!tools.is_null()) context["tools"] = tools;
        if (enable_thinking) context["enable_thinking"] = *enable_thinking;
        if (kwargs.is_object()) {
            for (const auto& [key, value] : kwargs.items()) {
                if (key == "messages" || key == "tools" || key == "add_generation_prompt") continue;
                context[key] = value;
            }
        }
        if (fill.is_object()) {
            context["prompt"] = fill["prompt"];
            context["suffix"] = fill["suffix"];
        }
        return (tmpl != nullptr ? *tmpl : *chat_template).render(context);
    }

    // The end-of-turn marker the template writes after an assistant message, when it is a
    // single control token (`<|eot_id|>`, `<|im_end|>`, `<end_of_turn>`...). The model ends its
    // answers with exactly that token, whatever the metadata calls end-of-sequence.
    std::optional<int32_t> template_end_token() const {
        static const std::string kProbe = "cria-end-of-turn-probe";
        json messages = json::array(
            {{{"role", "user"}, {"content", "hi"}}, {{"role", "assistant"}, {"content", kProbe}}});
        Expected<std::string> rendered = render_chat(messages, nullptr, false);
        if (!rendered.has_value()) return std::nullopt;
        size_t at = rendered->rfind(kProbe);
        if (at == std::string::npos) return std::nullopt;
        if (at + kProbe.size() == rendered->size()) {
            // Go templates (as Ollama's) leave the last assistant turn open as a prefill; the
            // marker shows once another turn follows.
            messages.push_back({{"role", "user"}, {"content", "hi"}});
            rendered = render_chat(messages, nullptr, false);
            if (!rendered.has_value()) return std::nullopt;
            at = rendered->rfind(kProbe);
            if (at == std::string::npos) return std::nullopt;
        }
        const std::string after = rendered->substr(at + kProbe.size());
        std::vector<int32_t> ids = tokenizer->encode(after, false, true);
        if (ids.empty() || !tokenizer->is_control(ids[0])) return std::nullopt;
        return ids[0];
    }
};

namespace {

// A short stable name for the weights: FNV-1a over the file's identity.
std::string fingerprint_of(const std::string& path, uint64_t size, int64_t mtime) {
    uint64_t hash = 1469598103934665603ull;
    auto mix = [&hash](const void* data, size_t n) {
        const auto* bytes = static_cast<const unsigned char*>(data);
        for (size_t i = 0; i < n; ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
    };
    mix(path.data(), path.size());
    mix(&size, sizeof(size));
    mix(&mtime, sizeof(mtime));
    char buf[32];
    std::snprintf(buf, sizeof(buf), "fp_%012llx",
                  static_cast<unsigned long long>(hash & 0xFFFFFFFFFFFFull));
    return buf;
}

// Sequences to run at once when the operator does not say: as many as a quarter of the memory
// available now holds caches for, at most 16 (beyond that, two cores gain little), at least 1.
int default_parallelism(const engine::Engine& engine, int64_t context_length) {
    const model::HParams& hp = engine.model().hparams();
    const uint64_t per_position =
        static_cast<uint64_t>(hp.n_layer) * (gguf::row_bytes(gguf::TensorType::kF16, hp.n_k()) +
                                             gguf::row_bytes(gguf::TensorType::kF16, hp.n_v()));
    const uint64_t per_sequence = std::max<uint64_t>(
        1, per_position * static_cast<uint64_t>(std::max<int64_t>(context_length, 1)));
    const std::optional<uint64_t> available = available_memory_bytes();
    if (!available) return 4;
    const uint64_t fit = *available / 4 / per_sequence;
    return static_cast<int>(std::clamp<uint64_t>(fit, 1, 16));
}

}  // namespace

ServedModel::ServedModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ServedModel::~ServedModel() = default;

Expected<std::unique_ptr<ServedModel>> ServedModel::load(const std::string& name,
                                                         const std::string& path,
                                                         const ServeOptions& options) {
    auto impl = std::make_unique<Impl>();
    impl->name = name;
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> model, model::Model::load(path));
    const gguf::File& file = model->file();
    CRIA_ASSIGN_OR_RETURN(impl->tokenizer, tokenizer::Tokenizer::from_gguf(file));
    const std::string template_source =
        options.chat_template ? *options.chat_template : file.get_string("tokenizer.chat_template");
    if (!template_source.empty()) {
        Expected<chat::ChatTemplate> parsed = chat::ChatTemplate::parse(template_source);
        if (!parsed.has_value()) {
            return invalid_argument("the chat template of " + path +
                                    " cannot be parsed: " + parsed.status().message());
        }
        impl->chat_template.emplace(std::move(parsed).value());
    }
    const tokenizer::Tokenizer& tok = *impl->tokenizer;
    if (tok.bos_id() >= 0) impl->bos_text = tok.token_text(tok.bos_id());
    if (tok.eos_id() >= 0) impl->eos_text = tok.token_text(tok.eos_id());

    engine::EngineOptions engine_options;
    engine_options.n_threads = options.threads;
    const int64_t trained = model->hparams().n_ctx_train;
    engine_options.context_length =
        trained > 0 ? std::min(options.context_length, trained) : options.context_length;
    CRIA_ASSIGN_OR_RETURN(impl->engine, engine::Engine::create(std::move(model), engine_options));

    impl->end_tokens = tok.eog_ids();
    if (impl->chat_template) {
        if (std::optional<int32_t> end = impl->template_end_token()) {
            impl->end_tokens.push_back(*end);
        }
    }
    std::sort(impl->end_tokens.begin(), impl->end_tokens.end());
    impl->end_tokens.erase(std::unique(impl->end_tokens.begin(), impl->end_tokens.end()),
                           impl->end_tokens.end());
    if (impl->end_tokens.empty()) {
        CRIA_LOG_WARN("%s: the model names no end-of-turn token; answers end only at limits",
                      name.c_str());
    }
    engine::SchedulerOptions scheduler_options;
    // An embedding model generates nothing: one idle sequence is all its scheduler needs.
    scheduler_options.num_parallel =
        impl->engine->is_embedding_model() ? 1
        : options.num_parallel > 0
            ? options.num_parallel
            : default_parallelism(*impl->engine, engine_options.context_length);
    scheduler_options.max_queue = options.max_queue;
    scheduler_options.on_request_done = options.on_request_done;
    CRIA_ASSIGN_OR_RETURN(impl->scheduler,
                          engine::Scheduler::create(*impl->engine, *impl->tokenizer,
                                                    impl->end_tokens, scheduler_options));
    impl->embedder = std::make_unique<engine::Embedder>(*impl->engine);

    struct stat info {};
    if (stat(path.c_str(), &info) == 0) impl->created = static_cast<int64_t>(info.st_mtime);
    impl->fingerprint = fingerprint_of(path, static_cast<uint64_t>(info.st_size), impl->created);
    return std::unique_ptr<ServedModel>(new ServedModel(std::move(impl)));
}

const std::string& ServedModel::name() const {
    return impl_->name;
}
int64_t ServedModel::created() const {
    return impl_->created;
}
int64_t ServedModel::context_length() const {
    return impl_->scheduler->context_length();
}
int32_t ServedModel::n_vocab() const {
    return static_cast<int32_t>(impl_->engine->n_vocab());
}
int ServedModel::num_parallel() const {
    return impl_->scheduler->load().num_parallel;
}
int ServedModel::running_choices() const {
    return impl_->scheduler->load().running;
}
int ServedModel::queued_requests() const {
    return impl_->scheduler->load().queued_requests;
}
const std::string& ServedModel::fingerprint() const {
    return impl_->fingerprint;
}

bool ServedModel::is_embedding_model() const {
    return impl_->engine->is_embedding_model();
}
int64_t ServedModel::embedding_width() const {
    return impl_->embedder->width();
}
int64_t ServedModel::max_embedding_tokens() const {
    return impl_->embedder->max_input_tokens();
}
std::vector<int32_t> ServedModel::embedding_tokens(const std::string& text) const {
    return impl_->tokenizer->encode(text, /*add_special=*/true, /*parse_special=*/false);
}
Expected<std::vector<std::vector<float>>> ServedModel::embed(
    std::vector<std::vector<int32_t>> inputs, const CancelCheck& cancelled) {
    return impl_->embedder->embed(std::move(inputs), cancelled);
}

ApiResult<std::vector<int32_t>> ServedModel::chat_prompt(
    const ChatCompletionRequest& request) const {
    const chat::ChatTemplate* tmpl = request.template_override ? request.template_override.get()
                                     : impl_->chat_template    ? &*impl_->chat_template
                                                               : nullptr;
    if (tmpl == nullptr) {
        return invalid_request(
            "The model '" + impl_->name + "' has no chat template; use /v1/completions instead.",
            "model", "no_chat_template");
    }
    json fill;
    if (!request.fill_suffix.empty()) {
        // As Ollama: only a template that places `.Suffix` can fill in the middle.
        if (tmpl->syntax() != chat::TemplateSyntax::kGo ||
            tmpl->source().find("Suffix") == std::string::npos) {
            return invalid_request("\"" + request.model + "\" does not support insert", "suffix",
                                   "invalid_value");
        }
        fill = {{"prompt", request.fill_prompt}, {"suffix", request.fill_suffix}};
    }
    Expected<std::string> text =
        impl_->render_chat(request.messages, request.tools, true, request.enable_thinking,
                           request.chat_template_kwargs, tmpl, fill);
    if (!text.has_value()) {
        // Some templates read an assistant's content as a string even when the message only
        // carries tool calls (OpenAI clients send null there); try again with "" for null.
        json messages = request.messages;
        bool had_null = false;
        for (json& message : messages) {
            if (message["content"].is_null()) {
                message["content"] = "";
                had_null = true;
            }
        }
        if (had_null) {
            Expected<std::string> retry =
                impl_->render_chat(messages, request.tools, true, request.enable_thinking,
                                   request.chat_template_kwargs, tmpl, fill);
            if (retry.has_value()) text = std::move(retry);
        }
    }
    if (!text.has_value()) {
        // A template raises errors on conversations it does not accept (roles out of order...).
        return invalid_request(
            "The model's chat template rejected the conversation: " + text.status().message(),
            "messages", "invalid_value");
    }
    const tokenizer::Tokenizer& tok = *impl_->tokenizer;
    // The rendered text carries the template's markers, BOS included when the template writes it.
    std::vector<int32_t> tokens = tok.encode(*text, false, true);
    if (tok.add_bos() && tok.bos_id() >= 0 && (tokens.empty() || tokens[0] != tok.bos_id())) {
        tokens.insert(tokens.begin(), tok.bos_id());
    }
    if (tokens.empty()) return invalid_request("The conversation is empty.", "messages");
    return tokens;
}

ApiResult<std::vector<int32_t>> ServedModel::completion_prompt(const PromptInput& prompt) const {
    if (prompt.is_tokens) {
        for (int32_t id : prompt.tokens) {
            if (id < 0 || id >= n_vocab()) {
                return invalid_request("Token id " + std::to_string(id) +
                                           " is outside the vocabulary of " +
                                           std::to_string(n_vocab()) + " tokens.",
                                       "prompt", "invalid_value");
            }
        }
        return prompt.tokens;
    }
    std::vector<int32_t> tokens = impl_->tokenizer->encode(prompt.text, true, true);
    if (tokens.empty()) {
        return invalid_request("The prompt is empty and the model has no start token.", "prompt",
                               "invalid_value");
    }
    return tokens;
}

grammar::GrammarCache& ServedModel::grammar_cache() const {
    return impl_->grammar_cache;
}

const std::string& ServedModel::chat_template_source() const {
    static const std::string kNone;
    return impl_->chat_template ? impl_->chat_template->source() : kNone;
}

int64_t ServedModel::count_tokens(std::string_view text) const {
    return static_cast<int64_t>(impl_->tokenizer->encode(text, false, false).size());
}

std::string ServedModel::detokenize(const std::vector<int32_t>& tokens) const {
    return impl_->tokenizer->decode(tokens);
}

PendingGeneration::PendingGeneration(std::unique_ptr<engine::Submission> submission)
    : submission_(std::move(submission)) {}
PendingGeneration::~PendingGeneration() = default;

Status PendingGeneration::wait(const GenerationEvents& events, const CancelCheck& cancelled) {
    return submission_->wait(events, cancelled);
}

Expected<std::unique_ptr<PendingGeneration>> ServedModel::start(
    const std::vector<std::vector<int32_t>>& prompts, const std::vector<ChoiceSpec>& choices,
    const GenerationRequest& request) {
    std::vector<std::shared_ptr<const std::vector<int32_t>>> shared_prompts;
    for (const std::vector<int32_t>& prompt : prompts) {
        shared_prompts.push_back(std::make_shared<const std::vector<int32_t>>(prompt));
    }
    std::shared_ptr<const sampling::TokenConstraintFactory> constraint;
    if (request.grammar) {
        CRIA_ASSIGN_OR_RETURN(auto vocabulary, impl_->grammar_vocabulary());
        constraint = grammar::make_token_constraint(request.grammar, std::move(vocabulary));
    }
    std::vector<engine::ChoiceRequest> specs;
    for (const ChoiceSpec& choice : choices) {
        if (choice.prompt >= shared_prompts.size()) {
            return Status(invalid_argument("a choice names a prompt the request does not have"));
        }
        engine::ChoiceRequest spec;
        spec.prompt = shared_prompts[choice.prompt];
        spec.index = choice.index;
        spec.sampling = request.sampling;
        // Choices of one seeded request differ from each other, and each repeats with the seed.
        if (spec.sampling.seed) {
            spec.sampling.seed = *spec.sampling.seed + static_cast<uint64_t>(choice.index);
        }
        spec.stop = request.stop;
        spec.constraint = constraint;
        spec.max_tokens = request.max_tokens;
        specs.push_back(std::move(spec));
    }
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<engine::Submission> submission,
                          impl_->scheduler->submit(std::move(specs)));
    return std::unique_ptr<PendingGeneration>(new PendingGeneration(std::move(submission)));
}

Status ServedModel::generate(const std::vector<std::vector<int32_t>>& prompts,
                             const std::vector<ChoiceSpec>& choices,
                             const GenerationRequest& request, const GenerationEvents& events,
                             const CancelCheck& cancelled) {
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<PendingGeneration> pending,
                          start(prompts, choices, request));
    return pending->wait(events, cancelled);
}

Status ModelRegistry::add(std::unique_ptr<ServedModel> model) {
    if (find(model->name()) != nullptr) {
        return invalid_argument("two models are named '" + model->name() + "'");
    }
    models_.push_back(std::move(model));
    return Status::ok();
}

ServedModel* ModelRegistry::find(const std::string& name) const {
    for (const auto& model : models_) {
        if (model->name() == name) return model.get();
    }
    return nullptr;
}

std::vector<ModelCard> ModelRegistry::cards() const {
    std::vector<ModelCard> cards;
    for (const auto& model : models_) cards.push_back({model->name(), model->created()});
    return cards;
}

}  // namespace cria::server
