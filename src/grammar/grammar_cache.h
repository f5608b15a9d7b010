// Compiled grammars kept by the request text they were compiled from, so that requests that
// repeat a schema or a tool list (every turn of an agent's conversation does) compile it once.
// The key is the whole text (a schema's JSON, the tools and the call syntax), compared exactly:
// a hash alone could be made to collide and hand one client's grammar to another's request.
// The cache holds at most max_entries grammars and max_key_bytes of keys, dropping the least
// recently used first. Thread-safe; failed compilations are not kept.
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"
#include "grammar/grammar.h"

namespace cria::grammar {

class GrammarCache {
  public:
    explicit GrammarCache(size_t max_entries = 64, size_t max_key_bytes = 32u << 20);

    using Compile = std::function<Expected<std::shared_ptr<const Grammar>>()>;
    // The grammar kept under `key`, or what `compile` returns (kept when it succeeds and the
    // key fits the budget).
    Expected<std::shared_ptr<const Grammar>> get_or_compile(const std::string& key,
                                                            const Compile& compile);

    size_t size() const;
    size_t hits() const;

  private:
    struct Entry {
        std::string key;
        std::shared_ptr<const Grammar> grammar;
    };
    size_t max_entries_;
    size_t max_key_bytes_;
    mutable std::mutex mutex_;
    std::list<Entry> entries_;  // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // views of keys
    size_t key_bytes_ = 0;
    size_t hits_ = 0;
};

}  // namespace cria::grammar
