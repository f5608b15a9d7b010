// Cost of constrained decoding per generated token: the grammar's token mask (and the accept
// that follows it) over real vocabularies, for the grammars the server builds for JSON mode, a
// JSON Schema and tool_choice "required".
//
//   ninja -C <build> grammar_bench && <build>/bench/grammar_bench
//
// Each iteration is one request: a new Matcher generates one answer of up to kMaxTokens
// tokens, with tables of its own ("cold": the first request with that grammar) or the ones the
// vocabulary keeps ("shared": later requests with the same grammar), as a random-weight model would
// (uniform over the allowed tokens, with a bias towards closing tokens so that answers finish).
// Only fill_mask and accept_token are timed; the counters report microseconds per token. The
// vocabularies come from ../shared and the benchmarks are skipped when it is absent.
#include <benchmark/benchmark.h>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "chat/tool_calls.h"
#include "gguf/reader.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/tool_call_grammar.h"
#include "server/structured_output.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace cria::grammar {
namespace {

using nlohmann::ordered_json;

constexpr int kMaxTokens = 64;
// Answers per benchmark: picking tokens (untimed) costs far more than a shared-table mask.
constexpr int kAnswers = 200;

struct LoadedVocabulary {
    std::shared_ptr<const TokenVocabulary> vocabulary;
    std::vector<int32_t> closers;  // tokens '"', ',', ':', ']', '}' (the bias of the e2e tests)
    std::string error;
};

// The same pieces, control flags and end tokens the server's generation service uses.
LoadedVocabulary load_vocabulary(const std::string& relative_path) {
    LoadedVocabulary out;
    const std::filesystem::path dir = cria::test::shared_dir();
    if (dir.empty()) {
        out.error = "../shared is absent (set CRIA_SHARED to point at it)";
        return out;
    }
    auto file = gguf::File::open((dir / relative_path).string());
    if (!file) {
        out.error = file.status().message();
        return out;
    }
    auto tok = tokenizer::Tokenizer::from_gguf(**file);
    if (!tok) {
        out.error = tok.status().message();
        return out;
    }
    const tokenizer::Tokenizer& t = **tok;
    std::vector<std::string> pieces(static_cast<size_t>(t.n_vocab()));
    std::vector<bool> never_text(pieces.size());
    for (int32_t id = 0; id < t.n_vocab(); ++id) {
        never_text[static_cast<size_t>(id)] = t.is_control(id);
        if (!t.is_control(id)) pieces[static_cast<size_t>(id)] = t.token_piece(id);
    }
    for (const char* closer : {"\"", ",", ":", "]", "}"}) {
        if (auto id = t.find_token(closer)) out.closers.push_back(*id);
    }
    auto vocab = TokenVocabulary::create(std::move(pieces), never_text, t.eog_ids());
    if (!vocab) {
        out.error = vocab.status().message();
        return out;
    }
    out.vocabulary = *vocab;
    return out;
}

// The person schema of tests/e2e/structured.test.mjs.
ordered_json person_schema() {
    return ordered_json::parse(R"({"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 6},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "role": {"enum": ["admin", "user", "guest"]},
        "active": {"type": "boolean"},
        "born": {"type": "string", "format": "date"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}, "maxItems": 2}},
      "required": ["name", "age", "role", "active", "born"], "additionalProperties": false})");
}

// The two functions of tests/e2e/structured.test.mjs, in the family's call syntax.
std::shared_ptr<const Grammar> tool_grammar(chat::ToolCallFormat format) {
    const ToolCallSyntax syntax = server::tool_call_syntax(format);
    std::vector<ToolFunction> functions = {
        {"get_weather", ordered_json::parse(R"({"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 8}, "unit": {"enum": ["c", "f"]}},
            "required": ["city", "unit"], "additionalProperties": false})")},
        {"add", ordered_json::parse(R"({"type": "object", "properties": {
            "a": {"type": "integer", "minimum": -99, "maximum": 99},
            "b": {"type": "integer", "minimum": -99, "maximum": 99}}, "required": ["a", "b"]})")},
    };
    auto g = compile_tool_call_grammar(syntax, functions, /*allow_multiple=*/true);
    return g ? *g : nullptr;
}

enum class Case { kJsonObject, kPersonSchema, kToolsRequired };

std::shared_ptr<const Grammar> grammar_for(Case c, chat::ToolCallFormat format) {
    switch (c) {
        case Case::kJsonObject: {
            auto g = compile_json_object_grammar();
            return g ? *g : nullptr;
        }
        case Case::kPersonSchema: {
            auto g = compile_json_schema(person_schema());
            return g ? *g : nullptr;
        }
        case Case::kToolsRequired:
            return tool_grammar(format);
    }
    return nullptr;
}

const char* case_name(Case c) {
    switch (c) {
        case Case::kJsonObject:
            return "json_object";
        case Case::kPersonSchema:
            return "person_schema";
        case Case::kToolsRequired:
            return "tools_required";
    }
    return "";
}

// shared: matchers use the tables the vocabulary keeps for the grammar (every request after
// the first with the same schema); otherwise each answer builds its own from scratch (the first
// request with a new schema).
void mask_per_token(benchmark::State& state, const LoadedVocabulary& loaded, Case grammar_case,
                    chat::ToolCallFormat format, bool shared) {
    if (!loaded.vocabulary) {
        state.SkipWithError(loaded.error.c_str());
        return;
    }
    const auto grammar = grammar_for(grammar_case, format);
    if (!grammar) {
        state.SkipWithError("the grammar did not compile");
        return;
    }
    const auto& vocab = loaded.vocabulary;
    std::vector<uint32_t> words((static_cast<size_t>(vocab->n_vocab()) + 31) / 32);
    std::vector<int32_t> allowed;
    std::vector<int32_t> allowed_closers;
    std::mt19937_64 rng(1);
    double mask_us = 0;
    double accept_us = 0;
    double max_mask_us = 0;
    int64_t tokens = 0;
    int64_t finished = 0;
    for (auto _ : state) {
        using Clock = std::chrono::steady_clock;
        Matcher matcher(grammar, vocab, shared);
        double iteration_us = 0;
        for (int step = 0; step < kMaxTokens && !matcher.is_ended() && matcher.can_continue();
             ++step) {
            auto start = Clock::now();
            if (!matcher.fill_mask(words).is_ok()) {
                state.SkipWithError("fill_mask failed");
                return;
            }
            const double us =
                std::chrono::duration<double, std::micro>(Clock::now() - start).count();
            mask_us += us;
            iteration_us += us;
            max_mask_us = std::max(max_mask_us, us);

            allowed.clear();
            allowed_closers.clear();
            for (int32_t t = 0; t < vocab->n_vocab(); ++t) {
                if ((words[static_cast<size_t>(t) >> 5] >> (t & 31)) & 1u) allowed.push_back(t);
            }
            for (int32_t t : loaded.closers) {
                if ((words[static_cast<size_t>(t) >> 5] >> (t & 31)) & 1u) {
                    allowed_closers.push_back(t);
                }
            }
            for (int32_t t : vocab->end_tokens()) {
                if ((words[static_cast<size_t>(t) >> 5] >> (t & 31)) & 1u) {
                    allowed_closers.push_back(t);
                }
            }
            if (allowed.empty()) {
                state.SkipWithError("the mask allowed no token");
                return;
            }
            const bool close = !allowed_closers.empty() && rng() % 4 == 0;
            const int32_t token = close ? allowed_closers[rng() % allowed_closers.size()]
                                        : allowed[rng() % allowed.size()];
            start = Clock::now();
            if (!matcher.accept_token(token).is_ok()) {
                state.SkipWithError("accept_token failed");
                return;
            }
            const double accept =
                std::chrono::duration<double, std::micro>(Clock::now() - start).count();
            accept_us += accept;
            iteration_us += accept;
            ++tokens;
        }
        if (matcher.is_ended() || (matcher.is_accepting() && !matcher.can_continue())) ++finished;
        state.SetIterationTime(iteration_us * 1e-6);
    }
    state.counters["mask_us_per_token"] =
        mask_us / static_cast<double>(std::max<int64_t>(tokens, 1));
    state.counters["accept_us_per_token"] =
        accept_us / static_cast<double>(std::max<int64_t>(tokens, 1));
    state.counters["max_mask_us"] = max_mask_us;
    state.counters["tokens_per_answer"] =
        static_cast<double>(tokens) / static_cast<double>(state.iterations());
    state.counters["finished"] =
        static_cast<double>(finished) / static_cast<double>(state.iterations());
}

// A string enum of n short values ("v0" .. "v<n-1>"), as a schema.
ordered_json enum_schema(int n) {
    ordered_json values = ordered_json::array();
    for (int i = 0; i < n; ++i) values.push_back("v" + std::to_string(i));
    return ordered_json{{"type", "string"}, {"enum", std::move(values)}};
}

// Objects nested `depth` deep, `width` properties each (the first required), strings inside.
ordered_json deep_schema(int depth, int width) {
    if (depth == 0) return ordered_json{{"type", "string"}, {"maxLength", 8}};
    ordered_json properties = ordered_json::object();
    for (int k = 0; k < width; ++k)
        properties["k" + std::to_string(k)] = deep_schema(depth - 1, width);
    return ordered_json{{"type", "object"},
                        {"properties", std::move(properties)},
                        {"required", ordered_json::array({"k0"})},
                        {"additionalProperties", false}};
}

enum class LargeCase { kEnum, kTools };

// What a request with a large schema costs before its answer: compiling the grammar, and the
// masks of a 4-token answer with tables of its own (the first request with that schema).
void large_schema(benchmark::State& state, const LoadedVocabulary& loaded, LargeCase which,
                  chat::ToolCallFormat format) {
    if (!loaded.vocabulary) {
        state.SkipWithError(loaded.error.c_str());
        return;
    }
    const int n = static_cast<int>(state.range(0));
    ordered_json schema;
    std::vector<ToolFunction> functions;
    if (which == LargeCase::kEnum) {
        schema = enum_schema(n);
    } else {
        for (int i = 0; i < n; ++i)
            functions.push_back({"tool_" + std::to_string(i), deep_schema(3, 3)});
    }
    const auto& vocab = loaded.vocabulary;
    std::vector<uint32_t> words((static_cast<size_t>(vocab->n_vocab()) + 31) / 32);
    double compile_ms = 0;
    double answer_ms = 0;
    size_t elements = 0;
    for (auto _ : state) {
        using Clock = std::chrono::steady_clock;
        auto start = Clock::now();
        auto grammar = which == LargeCase::kEnum
                           ? compile_json_schema(schema)
                           : compile_tool_call_grammar(server::tool_call_syntax(format), functions,
                                                       /*allow_multiple=*/true);
        const auto compiled = Clock::now();
        if (!grammar) {
            state.SkipWithError(grammar.status().message().c_str());
            return;
        }
        elements = (*grammar)->element_count();
        Matcher matcher(*grammar, vocab, /*share_tables=*/false);
        for (int step = 0; step < 4 && matcher.can_continue(); ++step) {
            if (!matcher.fill_mask(words).is_ok()) {
                state.SkipWithError("fill_mask failed");
                return;
            }
            int32_t token = -1;
            for (int32_t t = 0; t < vocab->n_vocab() && token < 0; ++t) {
                if ((words[static_cast<size_t>(t) >> 5] >> (t & 31)) & 1u) token = t;
            }
            if (token < 0 || !matcher.accept_token(token).is_ok()) break;
        }
        const auto done = Clock::now();
        compile_ms += std::chrono::duration<double, std::milli>(compiled - start).count();
        answer_ms += std::chrono::duration<double, std::milli>(done - compiled).count();
        state.SetIterationTime(std::chrono::duration<double>(done - start).count());
    }
    const double iterations = static_cast<double>(state.iterations());
    state.counters["compile_ms"] = compile_ms / iterations;
    state.counters["answer4_ms"] = answer_ms / iterations;
    state.counters["grammar_elements"] = static_cast<double>(elements);
}

}  // namespace
}  // namespace cria::grammar

int main(int argc, char** argv) {
    using namespace cria::grammar;
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    struct VocabularyCase {
        const char* name;
        const char* path;  // under ../shared
        cria::chat::ToolCallFormat format;
    };
    const VocabularyCase vocabularies[] = {
        {"qwen151k", "models/tiny-qwen3.Q8_0.gguf", cria::chat::ToolCallFormat::kHermes},
        {"llama3_128k", "golden/vocab/ggml-vocab-llama-bpe.gguf",
         cria::chat::ToolCallFormat::kLlama3},
    };
    std::vector<LoadedVocabulary> loaded;
    loaded.reserve(std::size(vocabularies));
    for (const VocabularyCase& v : vocabularies) loaded.push_back(load_vocabulary(v.path));
    for (size_t i = 0; i < std::size(vocabularies); ++i) {
        for (Case c : {Case::kJsonObject, Case::kPersonSchema, Case::kToolsRequired}) {
            for (bool shared : {false, true}) {
                const std::string name = std::string("MaskPerToken/") + vocabularies[i].name + "/" +
                                         case_name(c) + (shared ? "/shared" : "/cold");
                benchmark::RegisterBenchmark(name.c_str(), mask_per_token, std::cref(loaded[i]), c,
                                             vocabularies[i].format, shared)
                    ->UseManualTime()
                    ->Unit(benchmark::kMillisecond)
                    ->Iterations(kAnswers);
            }
        }
    }
    // Large schemas, on the first vocabulary: enums of 1k..100k values, 20 and 200 tools.
    benchmark::RegisterBenchmark("LargeSchema/qwen151k/enum", large_schema, std::cref(loaded[0]),
                                 LargeCase::kEnum, vocabularies[0].format)
        ->Arg(1000)
        ->Arg(10000)
        ->Arg(100000)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
    benchmark::RegisterBenchmark("LargeSchema/qwen151k/tools", large_schema, std::cref(loaded[0]),
                                 LargeCase::kTools, vocabularies[0].format)
        ->Arg(20)
        ->Arg(200)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
