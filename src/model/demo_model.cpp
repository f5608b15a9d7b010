#include "model/demo_model.h"

#include <system_error>

#include "gguf/reader.h"
#include "model/demo_vocab.h"
#include "model/model_maker.h"

namespace cria::model {

Expected<std::string> ensure_default_model(const std::filesystem::path& dir) {
    const std::filesystem::path path = dir / (std::string(kDefaultModelName) + ".gguf");
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) return path.string();
    std::filesystem::create_directories(dir, ec);
    if (ec) return io_error("cannot create " + dir.string() + ": " + ec.message());

    // The vocabulary goes through a GGUF image because the model maker copies tokenizer keys
    // from a parsed file; `image` must outlive `vocabulary`.
    gguf::Writer vocab_writer;
    write_demo_vocabulary(build_demo_vocabulary(), vocab_writer);
    const std::vector<uint8_t> image = vocab_writer.to_bytes();
    CRIA_ASSIGN_OR_RETURN(std::unique_ptr<gguf::File> vocabulary,
                          gguf::File::parse(image.data(), image.size()));

    RandomModelSpec spec;
    spec.arch = "llama";
    spec.name = kDefaultModelName;
    spec.n_embd = 128;
    spec.n_layer = 2;
    spec.n_head = 4;
    spec.n_head_kv = 2;
    spec.n_ff = 384;
    spec.n_ctx = 8192;
    spec.quantization = "F32";
    spec.seed = 20240601;
    spec.vocabulary = vocabulary.get();
    ThreadPool pool(ThreadPool::default_thread_count());
    // Written through a temporary file and renamed, so servers starting together never read
    // half a model; the last one to finish wins with identical bytes.
    CRIA_RETURN_IF_ERROR(make_model_file(spec, path.string(), pool));
    return path.string();
}

}  // namespace cria::model
