#include "gguf/model_summary.h"

namespace cria::gguf {
namespace {

// The most common tensor type, weighted by bytes, names a file without general.file_type.
std::string dominant_type(const File& file) {
    std::map<std::string, uint64_t> bytes_by_type;
    for (const auto& t : file.tensors()) {
        if (t.n_dims >= 2) bytes_by_type[std::string(tensor_type_name(t.type))] += t.n_bytes;
    }
    std::string best = "unknown";
    uint64_t best_bytes = 0;
    for (const auto& [name, bytes] : bytes_by_type) {
        if (bytes > best_bytes) {
            best = name;
            best_bytes = bytes;
        }
    }
    return best;
}

}  // namespace

ModelSummary summarize(const File& file) {
    ModelSummary s;
    s.architecture = file.get_string("general.architecture");
    s.name = file.get_string("general.name");
    const std::string prefix = s.architecture + ".";
    s.context_length = file.get_u64(prefix + "context_length", 0);
    s.embedding_length = file.get_u64(prefix + "embedding_length", 0);
    s.is_embedding_model = file.get_u64(prefix + "pooling_type", 0) != 0;
    s.block_count = file.get_u64(prefix + "block_count", 0);
    for (const auto& t : file.tensors()) {
        s.parameters += t.n_elements;
        s.tensor_bytes += t.n_bytes;
        ++s.tensor_types[std::string(tensor_type_name(t.type))];
    }
    if (const Value* ft = file.find("general.file_type"); ft != nullptr && ft->as_u64()) {
        s.file_type = std::string(file_type_name(static_cast<uint32_t>(*ft->as_u64())));
    } else {
        s.file_type = dominant_type(file);
    }
    s.tokenizer_model = file.get_string("tokenizer.ggml.model");
    if (const Value* tokens = file.find("tokenizer.ggml.tokens"); tokens && tokens->is_array()) {
        s.vocab_size = tokens->as_array()->size();
    } else {
        s.vocab_size = file.get_u64(prefix + "vocab_size", 0);
    }
    s.has_chat_template = file.find("tokenizer.chat_template") != nullptr;
    return s;
}

}  // namespace cria::gguf
