// `cria show PATH.gguf [--json]`: what a model file is, in the terms `ollama show` uses.
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "gguf/model_summary.h"
#include "gguf/reader.h"
#include "model_commands_support.h"
#include "show_model.h"

namespace cria::app {
namespace {

std::string human_count(uint64_t n) {
    char buf[32];
    if (n >= 1000000000ull) {
        std::snprintf(buf, sizeof(buf), "%.1fB", static_cast<double>(n) / 1e9);
    } else if (n >= 1000000ull) {
        std::snprintf(buf, sizeof(buf), "%.1fM", static_cast<double>(n) / 1e6);
    } else if (n >= 1000ull) {
        std::snprintf(buf, sizeof(buf), "%.1fK", static_cast<double>(n) / 1e3);
    } else {
        std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(n));
    }
    return buf;
}

void print_row(const char* label, const std::string& value) {
    std::printf("    %-20s %s\n", label, value.c_str());
}

// Large arrays (vocabularies, merges) print as null, as `ollama show` does without --verbose.
nlohmann::json value_to_json(const gguf::Value& v) {
    constexpr size_t kMaxArrayItems = 64;
    if (const auto* items = v.as_array()) {
        if (items->size() > kMaxArrayItems) return nullptr;
        nlohmann::json out = nlohmann::json::array();
        for (const auto& item : *items) out.push_back(value_to_json(item));
        return out;
    }
    if (const auto* s = v.as_string()) return *s;
    if (const auto b = v.as_bool()) return *b;
    if (v.is_float()) return *v.as_f64();
    if (const auto u = v.as_u64()) return *u;
    return *v.as_i64();
}

nlohmann::json summary_to_json(const gguf::ModelSummary& s) {
    nlohmann::json out;
    out["architecture"] = s.architecture;
    out["name"] = s.name;
    out["parameters"] = s.parameters;
    out["context_length"] = s.context_length;
    out["embedding_length"] = s.embedding_length;
    out["block_count"] = s.block_count;
    out["file_type"] = s.file_type;
    out["tensor_types"] = s.tensor_types;
    out["tokenizer_model"] = s.tokenizer_model;
    out["vocab_size"] = s.vocab_size;
    out["has_chat_template"] = s.has_chat_template;
    out["tensor_bytes"] = s.tensor_bytes;
    return out;
}

}  // namespace

int show_file(const std::string& path, bool as_json) {
    auto file = gguf::File::open(path);
    if (!file) {
        std::fprintf(stderr, "cria show: %s\n", file.status().message().c_str());
        return 1;
    }
    const gguf::ModelSummary s = gguf::summarize(**file);
    if (as_json) {
        nlohmann::json out = summary_to_json(s);
        nlohmann::json keys = nlohmann::json::object();
        for (const auto& kv : (*file)->metadata()) keys[kv.key] = value_to_json(kv.value);
        out["metadata"] = keys;
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    auto or_unknown = [](uint64_t v) {
        return v == 0 ? std::string("unknown") : std::to_string(v);
    };
    std::printf("  Model\n");
    print_row("architecture", s.architecture.empty() ? "unknown" : s.architecture);
    print_row("parameters", human_count(s.parameters));
    print_row("context length", or_unknown(s.context_length));
    print_row("embedding length", or_unknown(s.embedding_length));
    print_row("block count", or_unknown(s.block_count));
    print_row("quantization", s.file_type);
    std::printf("\n  Tensors\n");
    for (const auto& [type, count] : s.tensor_types) print_row(type.c_str(), std::to_string(count));
    std::printf("\n  Tokenizer\n");
    print_row("model", s.tokenizer_model.empty() ? "none" : s.tokenizer_model);
    print_row("vocabulary size", std::to_string(s.vocab_size));
    print_row("chat template", s.has_chat_template ? "yes" : "no");
    std::printf("\n  Metadata\n");
    for (const auto& kv : (*file)->metadata()) {
        std::printf("    %-44s %s\n", kv.key.c_str(), kv.value.to_display_string().c_str());
    }
    return 0;
}

void add_show_command(CLI::App& root) {
    auto* cmd = root.add_subcommand("show", "Show information about a model file or model");
    auto path = std::make_shared<std::string>();
    auto as_json = std::make_shared<bool>(false);
    auto sections = std::make_shared<ShowModelSections>();
    cmd->add_option("model", *path, "Path to a .gguf file, or the name of a model")->required();
    cmd->add_flag("--json", *as_json, "Print one JSON object");
    cmd->add_flag("--modelfile", sections->modelfile, "Show the Modelfile of a model");
    cmd->add_flag("--parameters", sections->parameters, "Show the parameters of a model");
    cmd->add_flag("--template", sections->chat_template, "Show the chat template of a model");
    cmd->add_flag("--system", sections->system, "Show the system prompt of a model");
    cmd->add_flag("--license", sections->license, "Show the license of a model");
    cmd->callback([path, as_json, sections] {
        int code = 0;
        if (names_a_file(*path)) {
            code = show_file(*path, *as_json);
        } else {
            sections->json = *as_json;
            code = show_store_model(*path, *sections);
        }
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace cria::app
