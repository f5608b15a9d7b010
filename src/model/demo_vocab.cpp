#include "model/demo_vocab.h"

#include <map>
#include <string_view>
#include <utility>

namespace cria::model {
namespace {

// Text the merges are learned from: plain English of the kind a chat greets with, so that
// common words become single tokens. Written for cria.
constexpr std::string_view kTrainingText =
    "Hello! How can I help you today? I am a small language model that runs on your own "
    "computer. You can ask me a question, and I will try to answer it as well as I can. "
    "The weather is nice today, and the sun is shining over the hills. There is a river in "
    "the valley, and the people of the town walk along it in the evening. What would you like "
    "to know? Here is the answer to your question: the number is forty two. This is a test of "
    "the system, and it is working. Thank you for your message. Please tell me more about what "
    "you need, and I will do my best to help. The quick brown fox jumps over the lazy dog. "
    "Once upon a time there was a little girl who lived in a house near the forest with her "
    "mother and father. Every morning she went to the well to bring water for the family. "
    "When she came home, they had breakfast together and talked about the day. ";

// GPT-2's byte-level alphabet: printable bytes stand for themselves, the others are moved to
// code points from U+0100 up so that every token text is printable.
std::vector<std::string> byte_alphabet() {
    auto printable = [](int b) {
        return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    auto utf8 = [](uint32_t cp) {
        std::string out;
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
        return out;
    };
    std::vector<std::string> alphabet(256);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) alphabet[b] = utf8(printable(b) ? b : next++);
    return alphabet;
}

// The training text cut into words as a byte-level pre-tokenizer would: a word is a run of
// letters or digits with the space before it, or one other character.
std::vector<std::string> split_words(std::string_view text) {
    std::vector<std::string> words;
    auto is_word_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    size_t i = 0;
    while (i < text.size()) {
        size_t start = i;
        if (text[i] == ' ' && i + 1 < text.size() && is_word_char(text[i + 1])) ++i;
        if (is_word_char(text[i])) {
            while (i < text.size() && is_word_char(text[i])) ++i;
        } else {
            ++i;
        }
        words.emplace_back(text.substr(start, i - start));
    }
    return words;
}

}  // namespace

DemoVocabulary build_demo_vocabulary(int n_merges) {
    DemoVocabulary vocab;
    const std::vector<std::string> alphabet = byte_alphabet();
    vocab.tokens = alphabet;

    // Each distinct word as a list of symbols (token texts), with its count.
    std::map<std::string, int> word_counts;
    for (const std::string& word : split_words(kTrainingText)) ++word_counts[word];
    std::vector<std::pair<std::vector<std::string>, int>> words;
    for (const auto& [word, count] : word_counts) {
        std::vector<std::string> symbols;
        for (unsigned char b : word) symbols.push_back(alphabet[b]);
        words.emplace_back(std::move(symbols), count);
    }

    for (int m = 0; m < n_merges; ++m) {
        // The most frequent adjacent pair; std::map order breaks ties deterministically.
        std::map<std::pair<std::string, std::string>, int> pair_counts;
        for (const auto& [symbols, count] : words) {
            for (size_t i = 0; i + 1 < symbols.size(); ++i) {
                pair_counts[{symbols[i], symbols[i + 1]}] += count;
            }
        }
        const std::pair<std::string, std::string>* best = nullptr;
        int best_count = 1;  // a pair seen once is not worth a token
        for (const auto& [pair, count] : pair_counts) {
            if (count > best_count) {
                best = &pair;
                best_count = count;
            }
        }
        if (best == nullptr) break;
        const std::string left = best->first;
        const std::string right = best->second;
        const std::string merged = left + right;
        vocab.merges.push_back(left + " " + right);
        vocab.tokens.push_back(merged);
        for (auto& [symbols, count] : words) {
            std::vector<std::string> next;
            for (size_t i = 0; i < symbols.size(); ++i) {
                if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
                    next.push_back(merged);
                    ++i;
                } else {
                    next.push_back(symbols[i]);
                }
            }
            symbols = std::move(next);
        }
    }
    vocab.token_types.assign(vocab.tokens.size(), 1);

    auto add_control = [&vocab](const char* text) {
        vocab.tokens.emplace_back(text);
        vocab.token_types.push_back(3);
        return static_cast<int32_t>(vocab.tokens.size() - 1);
    };
    vocab.bos_id = add_control("<|begin_of_text|>");
    add_control("<|start_header_id|>");
    add_control("<|end_header_id|>");
    vocab.eot_id = add_control("<|eot_id|>");

    // A Llama-3-style conversation: each message is a header with its role, a blank line, the
    // text and an end-of-turn marker. Tools, when a request has them, go in a system turn first.
    vocab.chat_template =
        "{{- bos_token }}\n"
        "{%- if tools %}\n"
        "{{- '<|start_header_id|>system<|end_header_id|>\\n\\nYou may call these functions. "
        "Answer with a JSON object {\"name\": ..., \"arguments\": {...}} to call one.\\n' }}\n"
        "{%- for tool in tools %}\n"
        "{{- tool | tojson }}\n"
        "{{- '\\n' }}\n"
        "{%- endfor %}\n"
        "{{- '<|eot_id|>' }}\n"
        "{%- endif %}\n"
        "{%- for message in messages %}\n"
        "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}\n"
        "{%- if message['content'] is string %}{{- message['content'] }}{%- endif %}\n"
        "{%- if message['tool_calls'] is defined and message['tool_calls'] %}\n"
        "{%- for call in message['tool_calls'] %}\n"
        "{{- '{\"name\": \"' + call['function']['name'] + '\", \"arguments\": ' + "
        "(call['function']['arguments'] | tojson) + '}' }}\n"
        "{%- endfor %}\n"
        "{%- endif %}\n"
        "{{- '<|eot_id|>' }}\n"
        "{%- endfor %}\n"
        "{%- if add_generation_prompt %}\n"
        "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
        "{%- endif %}\n";
    return vocab;
}

void write_demo_vocabulary(const DemoVocabulary& vocab, gguf::Writer& writer) {
    writer.set("tokenizer.ggml.model", gguf::Value::string("gpt2"));
    writer.set("tokenizer.ggml.pre", gguf::Value::string("llama-bpe"));
    writer.set("tokenizer.ggml.tokens", gguf::Value::string_array(vocab.tokens));
    writer.set("tokenizer.ggml.token_type", gguf::Value::i32_array(vocab.token_types));
    writer.set("tokenizer.ggml.merges", gguf::Value::string_array(vocab.merges));
    writer.set("tokenizer.ggml.bos_token_id",
               gguf::Value::u32(static_cast<uint32_t>(vocab.bos_id)));
    writer.set("tokenizer.ggml.eos_token_id",
               gguf::Value::u32(static_cast<uint32_t>(vocab.eot_id)));
    writer.set("tokenizer.ggml.eot_token_id",
               gguf::Value::u32(static_cast<uint32_t>(vocab.eot_id)));
    writer.set("tokenizer.ggml.add_bos_token", gguf::Value::boolean(true));
    writer.set("tokenizer.chat_template", gguf::Value::string(vocab.chat_template));
}

}  // namespace cria::model
