#include "server/generation.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <limits>

#include "chat/chat_template.h"
#include "core/log.h"
#include "engine/engine.h"
#include "gguf/reader.h"
#include "grammar/matcher.h"
#include "sampling/sampler.h"
#include "sampling/stop_matcher.h"
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
    // Token bytes arranged for grammar masks; built on the first constrained request.
    std::shared_ptr<const grammar::TokenVocabulary> grammar_vocabulary;

    // State of the one sequence generations run on (used only under the lease).
    std::unique_ptr<engine::Sequence> sequence;
    std::vector<int32_t> decoded_prompt;  // what `sequence` holds up to prompt_logits
    std::vector<float> prompt_logits;     // [n_vocab] after the last prompt token
    std::vector<float> logits;            // [n_vocab] scratch for each generated token
    std::timed_mutex generation_mutex;    // one request generates at a time

    bool is_end(int32_t token) const {
        return std::binary_search(end_tokens.begin(), end_tokens.end(), token);
    }

    Expected<std::string> render_chat(const json& messages, const json& tools,
                                      bool add_generation_prompt,
                                      std::optional<bool> enable_thinking = std::nullopt) const {
        json context = {{"messages", messages},
                        {"add_generation_prompt", add_generation_prompt},
                        {"bos_token", bos_text},
                        {"eos_token", eos_text}};
        if (!tools.is_null()) context["tools"] = tools;
        if (enable_thinking) context["enable_thinking"] = *enable_thinking;
        return chat_template->render(context);
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
        const size_t at = rendered->rfind(kProbe);
        if (at == std::string::npos) return std::nullopt;
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
    CRIA_ASSIGN_OR_RETURN(impl->sequence, impl->engine->create_sequence());

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
    return impl_->sequence->n_ctx();
}
int32_t ServedModel::n_vocab() const {
    return static_cast<int32_t>(impl_->engine->n_vocab());
}
const std::string& ServedModel::fingerprint() const {
    return impl_->fingerprint;
}

ApiResult<std::vector<int32_t>> ServedModel::chat_prompt(
    const ChatCompletionRequest& request) const {
    if (!impl_->chat_template) {
        return invalid_request(
            "The model '" + impl_->name + "' has no chat template; use /v1/completions instead.",
            "model", "no_chat_template");
    }
    Expected<std::string> text =
        impl_->render_chat(request.messages, request.tools, true, request.enable_thinking);
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
                impl_->render_chat(messages, request.tools, true, request.enable_thinking);
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

const std::string& ServedModel::chat_template_source() const {
    static const std::string kNone;
    return impl_->chat_template ? impl_->chat_template->source() : kNone;
}

std::string ServedModel::detokenize(const std::vector<int32_t>& tokens) const {
    return impl_->tokenizer->decode(tokens);
}

namespace {

// Hands out generated text in whole characters with the logprobs of the tokens behind it. A
// token's entry goes out with the first piece of text that reaches the token's first byte, so
// a token whose text is still held back (a possible stop string, half a character) waits, and
// one whose text turns out to be part of a stop string is never reported.
class PieceEmitter {
  public:
    using PieceCallback =
        std::function<bool(const std::string& text, std::vector<TokenLogprob>&& logprobs)>;
    PieceEmitter(ChoiceOutcome& outcome, const PieceCallback& on_piece, bool with_logprobs)
        : outcome_(outcome), on_piece_(on_piece), with_logprobs_(with_logprobs) {}

    void add_token(TokenLogprob entry, size_t first_byte) {
        if (with_logprobs_) pending_.push_back({std::move(entry), first_byte});
    }

    // Emits `text`; `flush_all` also hands out every pending entry. False: stop generating.
    bool emit(const std::string& text, bool flush_all) {
        emitted_bytes_ += text.size();
        std::vector<TokenLogprob> ready;
        while (!pending_.empty() && (flush_all || pending_.front().second < emitted_bytes_)) {
            ready.push_back(std::move(pending_.front().first));
            pending_.pop_front();
        }
        if (text.empty() && ready.empty()) return true;
        outcome_.text += text;
        for (const TokenLogprob& entry : ready) outcome_.logprobs.push_back(entry);
        return on_piece_ ? on_piece_(text, std::move(ready)) : true;
    }

  private:
    ChoiceOutcome& outcome_;
    const PieceCallback& on_piece_;
    bool with_logprobs_;
    std::deque<std::pair<TokenLogprob, size_t>> pending_;
    size_t emitted_bytes_ = 0;
};

}  // namespace

namespace {

// One choice, start to end, on the model's one sequence (the caller holds generation_mutex).
Expected<ChoiceOutcome> generate_one(ServedModel::Impl& m, const std::vector<int32_t>& prompt,
                                     const GenerationRequest& request, int choice_index,
                                     const PieceEmitter::PieceCallback& on_piece,
                                     const CancelCheck& cancelled, bool& was_cancelled) {
    const auto prompt_size = static_cast<int64_t>(prompt.size());
    const int64_t n_ctx = m.sequence->n_ctx();
    if (prompt.empty() || prompt_size >= n_ctx) {
        return invalid_argument("the prompt must hold 1 to " + std::to_string(n_ctx - 1) +
                                " tokens");
    }
    // A prompt decoded for an earlier choice (or an identical earlier request) is reused: its
    // keys and values are the same bytes a fresh decode would write, so outputs do not change.
    if (m.decoded_prompt == prompt && m.sequence->n_past() >= prompt_size) {
        CRIA_RETURN_IF_ERROR(m.sequence->truncate(prompt_size));
    } else {
        m.decoded_prompt.clear();
        m.sequence->reset();
        CRIA_RETURN_IF_ERROR(
            m.engine->decode(*m.sequence, prompt, engine::LogitsMode::kLast, m.prompt_logits));
        m.decoded_prompt = prompt;
    }

    sampling::SamplingParams params = request.sampling;
    // Choices of one seeded request differ from each other, and each repeats with the seed.
    if (params.seed) params.seed = *params.seed + static_cast<uint64_t>(choice_index);
    CRIA_ASSIGN_OR_RETURN(
        sampling::Sampler sampler,
        sampling::Sampler::create(params, static_cast<int32_t>(m.engine->n_vocab())));
    CRIA_RETURN_IF_ERROR(sampler.accept_prompt(prompt));
    CRIA_ASSIGN_OR_RETURN(sampling::StopMatcher stop, sampling::StopMatcher::create(request.stop));
    tokenizer::StreamingDecoder text_decoder(*m.tokenizer, /*at_text_start=*/false);

    // Structured outputs: the grammar bans every token that cannot continue a valid answer.
    std::optional<grammar::Matcher> matcher;
    std::optional<sampling::TokenBitmask> allowed;
    if (request.grammar) {
        if (!m.grammar_vocabulary) {
            const tokenizer::Tokenizer& tok = *m.tokenizer;
            std::vector<std::string> pieces(static_cast<size_t>(tok.n_vocab()));
            std::vector<bool> never_text(pieces.size());
            for (int32_t id = 0; id < tok.n_vocab(); ++id) {
                never_text[static_cast<size_t>(id)] = tok.is_control(id);
                if (!tok.is_control(id)) pieces[static_cast<size_t>(id)] = tok.token_piece(id);
            }
            CRIA_ASSIGN_OR_RETURN(
                m.grammar_vocabulary,
                grammar::TokenVocabulary::create(std::move(pieces), never_text, m.end_tokens));
        }
        matcher.emplace(request.grammar, m.grammar_vocabulary);
        allowed.emplace(static_cast<int32_t>(m.engine->n_vocab()), false);
    }

    const int64_t room = n_ctx - prompt_size;
    const int64_t limit = std::min(request.max_tokens.value_or(room), room);
    const bool with_logprobs = params.logprobs;

    ChoiceOutcome outcome;
    outcome.index = choice_index;
    PieceEmitter emitter(outcome, on_piece, with_logprobs);
    size_t decoded_bytes = 0;  // text the streaming decoder has produced so far
    const std::vector<float>* logits = &m.prompt_logits;
    bool stopped_by_string = false;
    for (;;) {
        if (cancelled && cancelled()) {
            was_cancelled = true;
            return outcome;
        }
        if (matcher) {
            // A complete answer that nothing can extend ends here (also without end tokens).
            if (!matcher->can_continue()) {
                outcome.finish_reason = "stop";
                break;
            }
            CRIA_RETURN_IF_ERROR(matcher->fill_mask(allowed->words()));
        }
        CRIA_ASSIGN_OR_RETURN(sampling::SampledToken sampled,
                              sampler.sample(*logits, matcher ? &*allowed : nullptr));
        if (matcher) CRIA_RETURN_IF_ERROR(matcher->accept_token(sampled.token));
        ++outcome.completion_tokens;
        if (m.is_end(sampled.token)) {
            outcome.finish_reason = "stop";
            break;
        }
        outcome.tokens.push_back(sampled.token);
        if (with_logprobs) {
            TokenLogprob entry{m.tokenizer->token_piece(sampled.token), sampled.logprob, {}};
            for (const sampling::TokenLogprob& alt : sampled.top_logprobs) {
                entry.top.push_back({m.tokenizer->token_piece(alt.token), alt.logprob});
            }
            emitter.add_token(std::move(entry), decoded_bytes);
        }
        const std::string piece = text_decoder.push(sampled.token);
        decoded_bytes += piece.size();
        sampling::StopScan scan = stop.feed(piece);
        if (!emitter.emit(scan.text, false)) {
            was_cancelled = true;
            return outcome;
        }
        if (scan.stopped) {
            stopped_by_string = true;
            outcome.finish_reason = "stop";
            break;
        }
        if (outcome.completion_tokens >= limit) {
            outcome.finish_reason = "length";
            break;
        }
        CRIA_RETURN_IF_ERROR(m.engine->decode(*m.sequence,
                                              std::span<const int32_t>(&sampled.token, 1),
                                              engine::LogitsMode::kLast, m.logits));
        logits = &m.logits;
    }
    // The prompt's cache stays valid for the next choice; what this choice appended does not.
    if (!stopped_by_string) {
        // Text still held back: half a character at the end, or a possible stop string start.
        sampling::StopScan scan = stop.feed(text_decoder.flush());
        if (scan.stopped) {
            outcome.finish_reason = "stop";
            if (!emitter.emit(scan.text, false)) was_cancelled = true;
        } else {
            std::string rest = scan.text + stop.finish();
            if (!emitter.emit(rest, true)) was_cancelled = true;
        }
    }
    return outcome;
}

}  // namespace

Status ServedModel::generate(const std::vector<std::vector<int32_t>>& prompts,
                             const std::vector<ChoiceSpec>& choices,
                             const GenerationRequest& request, const GenerationEvents& events,
                             const CancelCheck& cancelled) {
    std::unique_lock<std::timed_mutex> lock(impl_->generation_mutex, std::defer_lock);
    // Wait in short slices so a queued client that leaves gives up its place.
    while (!lock.try_lock_for(std::chrono::milliseconds(50))) {
        if (cancelled && cancelled()) return cria::cancelled("the client went away");
    }
    for (const ChoiceSpec& choice : choices) {
        const int index = choice.index;
        PieceEmitter::PieceCallback on_piece = [&](const std::string& text,
                                                   std::vector<TokenLogprob>&& logprobs) {
            return events.on_piece ? events.on_piece(index, text, std::move(logprobs)) : true;
        };
        bool was_cancelled = false;
        CRIA_ASSIGN_OR_RETURN(ChoiceOutcome outcome,
                              generate_one(*impl_, prompts.at(choice.prompt), request, index,
                                           on_piece, cancelled, was_cancelled));
        if (was_cancelled) return cria::cancelled("the client went away");
        if (events.on_finish && !events.on_finish(outcome)) {
            return cria::cancelled("the client went away");
        }
    }
    return Status::ok();
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
