#include "tokenizer/vocab.h"

#include <cmath>
#include <string>

#include "core/log.h"

namespace cria::tokenizer {
namespace {

constexpr const char* kPrefix = "tokenizer.ggml.";

std::string key_of(const char* name) {
    return std::string(kPrefix) + name;
}

// A string array, checked element by element against the caps.
Expected<std::vector<std::string>> read_strings(const gguf::File& file, const char* name,
                                                size_t max_items) {
    const std::string key = key_of(name);
    const gguf::Value* value = file.find(key);
    if (value == nullptr) return std::vector<std::string>{};
    const gguf::Value::Array* items = value->as_array();
    if (items == nullptr) return corrupt(key + " is not an array");
    if (items->size() > max_items) {
        return resource_exhausted(key + " has " + std::to_string(items->size()) +
                                  " entries, more than the limit of " + std::to_string(max_items));
    }
    std::vector<std::string> out;
    out.reserve(items->size());
    for (size_t i = 0; i < items->size(); ++i) {
        const std::string* s = (*items)[i].as_string();
        if (s == nullptr) return corrupt(key + "[" + std::to_string(i) + "] is not a string");
        if (s->size() > kMaxTokenBytes) {
            return resource_exhausted(key + "[" + std::to_string(i) + "] is " +
                                      std::to_string(s->size()) + " bytes long");
        }
        out.push_back(*s);
    }
    return out;
}

// A numeric array of exactly `expected` entries (or absent: empty result).
Expected<std::vector<double>> read_numbers(const gguf::File& file, const char* name,
                                           size_t expected) {
    const std::string key = key_of(name);
    const gguf::Value* value = file.find(key);
    if (value == nullptr) return std::vector<double>{};
    const gguf::Value::Array* items = value->as_array();
    if (items == nullptr) return corrupt(key + " is not an array");
    if (items->size() != expected) {
        return corrupt(key + " has " + std::to_string(items->size()) + " entries for " +
                       std::to_string(expected) + " tokens");
    }
    std::vector<double> out;
    out.reserve(items->size());
    for (size_t i = 0; i < items->size(); ++i) {
        const std::optional<double> v = (*items)[i].as_f64();
        if (!v) return corrupt(key + "[" + std::to_string(i) + "] is not a number");
        out.push_back(*v);
    }
    return out;
}

// A token id key: the fallback when absent; -1 (with a warning) when it names no token.
int32_t read_token_id(const gguf::File& file, const char* name, int32_t fallback, size_t n_vocab) {
    const std::string key = key_of(name);
    const gguf::Value* value = file.find(key);
    int64_t id = fallback;
    if (value != nullptr) {
        const std::optional<int64_t> v = value->as_i64();
        if (!v) {
            CRIA_LOG_WARN("%s is not an integer; ignored", key.c_str());
            return -1;
        }
        id = *v;
    }
    if (id < 0) return -1;
    if (static_cast<uint64_t>(id) >= n_vocab) {
        if (value != nullptr) {
            CRIA_LOG_WARN("%s = %lld is outside the vocabulary of %zu tokens; ignored", key.c_str(),
                          static_cast<long long>(id), n_vocab);
        }
        return -1;
    }
    return static_cast<int32_t>(id);
}

bool read_flag(const gguf::File& file, const char* name, bool fallback) {
    return file.get_bool(key_of(name), fallback);
}

}  // namespace

Expected<VocabData> vocab_from_gguf(const gguf::File& file) {
    VocabData vocab;
    const std::string model = file.get_string(key_of("model"));
    if (model == "gpt2") {
        vocab.model = VocabModel::kBpe;
    } else if (model == "llama") {
        vocab.model = VocabModel::kSpm;
    } else if (model == "bert") {
        vocab.model = VocabModel::kWpm;
    } else if (model.empty()) {
        return not_found("the file has no tokenizer (tokenizer.ggml.model is missing)");
    } else {
        return unsupported("tokenizer model '" + model +
                           "' is not supported (supported: gpt2, llama, bert)");
    }

    CRIA_ASSIGN_OR_RETURN(vocab.tokens, read_strings(file, "tokens", kMaxVocabSize));
    if (vocab.tokens.empty()) return corrupt("tokenizer.ggml.tokens is missing or empty");
    const size_t n_vocab = vocab.tokens.size();

    CRIA_ASSIGN_OR_RETURN(const std::vector<double> types,
                          read_numbers(file, "token_type", n_vocab));
    vocab.types.reserve(types.size());
    for (const double t : types) {
        const bool known = t >= 0 && t <= 6 && std::floor(t) == t;
        vocab.types.push_back(known ? static_cast<TokenType>(static_cast<int32_t>(t))
                                    : TokenType::kUndefined);
    }
    CRIA_ASSIGN_OR_RETURN(const std::vector<double> scores, read_numbers(file, "scores", n_vocab));
    vocab.scores.reserve(scores.size());
    for (const double s : scores)
        vocab.scores.push_back(std::isfinite(s) ? static_cast<float>(s) : 0.0f);

    switch (vocab.model) {
        case VocabModel::kBpe: {
            const std::string pre = file.get_string(key_of("pre"));
            CRIA_ASSIGN_OR_RETURN(vocab.pre, pre_tokenizer_from_name(pre));
            // Llama 3's tokenizer keeps a word whole when the word is itself a token.
            vocab.ignore_merges =
                pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3";
            CRIA_ASSIGN_OR_RETURN(vocab.merges, read_strings(file, "merges", kMaxMerges));
            if (vocab.merges.empty()) return corrupt("tokenizer.ggml.merges is missing or empty");
            vocab.bos_id = read_token_id(file, "bos_token_id", -1, n_vocab);
            vocab.eos_id = read_token_id(file, "eos_token_id", -1, n_vocab);
            vocab.unk_id = read_token_id(file, "unknown_token_id", -1, n_vocab);
            vocab.add_bos = read_flag(file, "add_bos_token", vocab.pre == PreTokenizer::kLlama3);
            vocab.add_eos = read_flag(file, "add_eos_token", false);
            vocab.add_space_prefix = false;
            break;
        }
        case VocabModel::kSpm:
            vocab.bos_id = read_token_id(file, "bos_token_id", 1, n_vocab);
            vocab.eos_id = read_token_id(file, "eos_token_id", 2, n_vocab);
            vocab.unk_id = read_token_id(file, "unknown_token_id", 0, n_vocab);
            vocab.add_bos = read_flag(file, "add_bos_token", true);
            vocab.add_eos = read_flag(file, "add_eos_token", false);
            vocab.add_space_prefix = read_flag(file, "add_space_prefix", true);
            break;
        case VocabModel::kWpm:
            // BERT frames a sequence as [CLS] ... [SEP].
            vocab.bos_id = read_token_id(file, "cls_token_id", 101, n_vocab);
            vocab.eos_id = read_token_id(file, "seperator_token_id", 102, n_vocab);
            vocab.unk_id = read_token_id(file, "unknown_token_id", 100, n_vocab);
            vocab.add_bos = read_flag(file, "add_bos_token", true);
            vocab.add_eos = read_flag(file, "add_eos_token", true);
            break;
    }
    vocab.pad_id = read_token_id(file, "padding_token_id", -1, n_vocab);
    vocab.eot_id = read_token_id(file, "eot_token_id", -1, n_vocab);
    vocab.eom_id = read_token_id(file, "eom_token_id", -1, n_vocab);
    return vocab;
}

}  // namespace cria::tokenizer
