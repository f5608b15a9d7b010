#include "server/chat_pipeline.h"

#include <algorithm>

#include "chat/chat_template.h"
#include "chat/reasoning.h"
#include "core/log.h"
#include "server/model_defaults.h"

namespace cria::server {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// Templates of QwQ and the R1 distills open <think> in the prompt itself: the answer then
// starts inside the reasoning.
bool prompt_opens_reasoning(const ServedModel& model, const std::vector<int32_t>& prompt) {
    const size_t tail = std::min<size_t>(prompt.size(), 16);
    return chat::prompt_opens_reasoning(model.detokenize(
        std::vector<int32_t>(prompt.end() - static_cast<long>(tail), prompt.end())));
}

// Indices of the messages trimming may leave out: every one but system messages and the last.
std::vector<size_t> droppable_messages(const nlohmann::ordered_json& messages) {
    std::vector<size_t> out;
    for (size_t i = 0; i + 1 < messages.size(); ++i) {
        if (messages[i].value("role", "") != "system") out.push_back(i);
    }
    return out;
}

// The conversation without the first `count` droppable messages.
nlohmann::ordered_json without_oldest(const nlohmann::ordered_json& messages,
                                      const std::vector<size_t>& droppable, size_t count) {
    nlohmann::ordered_json kept = nlohmann::ordered_json::array();
    size_t next = 0;
    for (size_t i = 0; i < messages.size(); ++i) {
        if (next < count && droppable[next] == i) {
            ++next;
            continue;
        }
        kept.push_back(messages[i]);
    }
    return kept;
}

// Leaves out the fewest oldest droppable messages with which the rendered prompt fits in
// `limit` tokens (a binary search: fewer messages never render longer). False when even the
// newest message alone does not fit; the chat is then left as it was.
bool trim_messages(const ServedModel& model, ChatCompletionRequest& chat, int64_t limit,
                   std::vector<int32_t>& prompt, int& dropped) {
    const std::vector<size_t> droppable = droppable_messages(chat.messages);
    const nlohmann::ordered_json all = chat.messages;
    std::optional<std::vector<int32_t>> best;
    size_t low = 1;
    size_t high = droppable.size();
    while (low <= high) {
        const size_t count = low + (high - low) / 2;
        chat.messages = without_oldest(all, droppable, count);
        ApiResult<std::vector<int32_t>> rendered = model.chat_prompt(chat);
        if (rendered.ok() && static_cast<int64_t>(rendered.value().size()) < limit) {
            best = std::move(rendered.value());
            dropped = static_cast<int>(count);
            high = count - 1;
        } else {
            low = count + 1;
        }
    }
    if (!best) {
        chat.messages = all;
        return false;
    }
    chat.messages = without_oldest(all, droppable, static_cast<size_t>(dropped));
    prompt = std::move(*best);
    return true;
}

}  // namespace

ApiResult<std::unique_ptr<PreparedChat>> prepare_chat(ModelLease lease, ChatInput input) {
    auto prepared = std::make_unique<PreparedChat>();
    prepared->lease = std::move(lease);
    prepared->chat = std::move(input.chat);
    ServedModel& model = prepared->model();
    ChatCompletionRequest& chat = prepared->chat;
    const store::ModelRecipe& recipe = prepared->lease.source().recipe;

    if (input.raw_prompt) {
        ApiResult<OutputPlan> planned = plan_chat_output(chat, "", &model.grammar_cache());
        if (!planned.ok()) return planned.error();
        prepared->plan = std::move(planned.value());
        prepared->plan.split_reasoning = false;
        prepared->plan.parse_tool_calls = false;
        PromptInput raw;
        raw.text = std::move(*input.raw_prompt);
        ApiResult<std::vector<int32_t>> prompt = model.completion_prompt(raw);
        if (!prompt.ok()) return prompt.error();
        prepared->prompt = std::move(prompt.value());
    } else {
        if (input.recipe == RecipeMessages::kSystemAndHistory) {
            apply_recipe_messages(chat.messages, recipe);
        } else if (input.recipe == RecipeMessages::kSystemOnly && recipe.system &&
                   !recipe.system->empty()) {
            store::ModelRecipe system_only;
            system_only.system = recipe.system;
            apply_recipe_messages(chat.messages, system_only);
        }
        const std::string& template_source = chat.template_override
                                                 ? chat.template_override->source()
                                                 : model.chat_template_source();
        if (input.require_reasoning && !chat::template_has_reasoning(template_source)) {
            return invalid_request("\"" + chat.model + "\" does not support thinking", "think");
        }
        ApiResult<OutputPlan> planned =
            plan_chat_output(chat, template_source, &model.grammar_cache());
        if (!planned.ok()) return planned.error();
        prepared->plan = std::move(planned.value());
        ApiResult<std::vector<int32_t>> prompt = model.chat_prompt(chat);
        if (!prompt.ok()) return prompt.error();
        prepared->prompt = std::move(prompt.value());
        if (input.trim_to_context &&
            static_cast<int64_t>(prepared->prompt.size()) >= model.context_length() &&
            trim_messages(model, chat, model.context_length(), prepared->prompt,
                          prepared->dropped_messages)) {
            CRIA_LOG_WARN(
                "the prompt is longer than the context of %lld tokens: left out the %d "
                "oldest messages",
                static_cast<long long>(model.context_length()), prepared->dropped_messages);
        }
        if (prepared->plan.split_reasoning) {
            prepared->plan.starts_in_reasoning = prompt_opens_reasoning(model, prepared->prompt);
        }
    }
    if (!input.prefix_tokens.empty()) {
        for (int32_t id : input.prefix_tokens) {
            if (id >= model.n_vocab()) {
                return invalid_request("context holds token id " + std::to_string(id) +
                                           ", outside the model's vocabulary",
                                       "context");
            }
        }
        // Trimmed, the newest prefix tokens that fit before the prompt stay.
        size_t skip = 0;
        const auto room =
            model.context_length() - 1 - static_cast<int64_t>(prepared->prompt.size());
        if (input.trim_to_context && static_cast<int64_t>(input.prefix_tokens.size()) > room) {
            skip = std::min(
                input.prefix_tokens.size(),
                input.prefix_tokens.size() - static_cast<size_t>(std::max<int64_t>(room, 0)));
            prepared->dropped_prefix_tokens = skip;
            CRIA_LOG_WARN(
                "the prompt is longer than the context of %lld tokens: left out the %zu "
                "oldest context tokens",
                static_cast<long long>(model.context_length()), skip);
        }
        prepared->prompt.insert(prepared->prompt.begin(),
                                input.prefix_tokens.begin() + static_cast<long>(skip),
                                input.prefix_tokens.end());
    }
    // The prompt must leave room for at least one generated token.
    const auto prompt_tokens = static_cast<int64_t>(prepared->prompt.size());
    if (prompt_tokens >= model.context_length()) {
        return context_length_exceeded(prompt_tokens, model.context_length(), input.prompt_param);
    }
    prepared->generation = chat.generation;
    prepared->generation.grammar = prepared->plan.grammar;
    return prepared;
}

Status start_chat(PreparedChat& chat) {
    std::vector<ChoiceSpec> choices;
    for (int i = 0; i < chat.generation.n; ++i) choices.push_back({0, i});
    CRIA_ASSIGN_OR_RETURN(chat.pending,
                          chat.model().start({chat.prompt}, choices, chat.generation));
    return Status::ok();
}

Status run_chat(PreparedChat& chat, ChatSink& sink, const CancelCheck& is_cancelled) {
    const auto n = static_cast<size_t>(chat.generation.n);
    // One shaper per choice, by index: choices interleave.
    std::vector<ChatOutputShaper> shapers(n, ChatOutputShaper(chat.plan));
    std::vector<std::optional<Clock::time_point>> first_piece(n);
    const bool with_logprobs = chat.generation.sampling.logprobs;
    for (size_t i = 0; i < n; ++i) {
        if (!sink.on_start(static_cast<int>(i))) {
            chat.pending.reset();
            return cancelled("the client closed the connection");
        }
    }
    GenerationEvents events;
    events.on_piece = [&](int index, const std::string& text,
                          std::vector<TokenLogprob>&& logprobs) {
        const auto slot = static_cast<size_t>(index);
        if (!first_piece[slot]) first_piece[slot] = Clock::now();
        std::vector<json> deltas = shapers[slot].feed(text);
        // Logprobs of tokens whose text is held back still travel, on an empty content delta.
        if (deltas.empty() && with_logprobs && !logprobs.empty()) {
            deltas.push_back({{"content", ""}});
        }
        for (size_t i = 0; i < deltas.size(); ++i) {
            const bool carries_logprobs = i == 0 && with_logprobs;
            if (!sink.on_delta(index, std::move(deltas[i]),
                               carries_logprobs ? &logprobs : nullptr)) {
                return false;
            }
        }
        return true;
    };
    events.on_finish = [&](const ChoiceResult& result) {
        const auto slot = static_cast<size_t>(result.index);
        ChatChoice choice;
        choice.result = result;
        for (json& delta : shapers[slot].finish(choice.result.finish_reason)) {
            if (!sink.on_delta(result.index, std::move(delta), nullptr)) return false;
        }
        shapers[slot].fill_message(choice.message);
        choice.first_piece_at = first_piece[slot];
        return sink.on_finish(std::move(choice));
    };
    const Status status = chat.pending->wait(events, is_cancelled);
    chat.pending.reset();
    return status;
}

}  // namespace cria::server
