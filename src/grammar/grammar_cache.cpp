#include "grammar/grammar_cache.h"

namespace cria::grammar {

GrammarCache::GrammarCache(size_t max_entries, size_t max_key_bytes)
    : max_entries_(max_entries), max_key_bytes_(max_key_bytes) {}

Expected<std::shared_ptr<const Grammar>> GrammarCache::get_or_compile(const std::string& key,
                                                                      const Compile& compile) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (auto found = index_.find(key); found != index_.end()) {
            entries_.splice(entries_.begin(), entries_, found->second);
            ++hits_;
            return found->second->grammar;
        }
    }
    // Compiled outside the lock: a large schema must not hold up requests with other ones.
    Expected<std::shared_ptr<const Grammar>> compiled = compile();
    if (!compiled.has_value() || key.size() > max_key_bytes_ || max_entries_ == 0) {
        return compiled;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (index_.count(key) != 0) return compiled;  // another request compiled it meanwhile
    entries_.push_front(Entry{key, *compiled});
    index_.emplace(entries_.front().key, entries_.begin());
    key_bytes_ += key.size();
    while (entries_.size() > max_entries_ || key_bytes_ > max_key_bytes_) {
        const Entry& oldest = entries_.back();
        key_bytes_ -= oldest.key.size();
        index_.erase(oldest.key);
        entries_.pop_back();
    }
    return compiled;
}

size_t GrammarCache::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
}

size_t GrammarCache::hits() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return hits_;
}

}  // namespace cria::grammar
