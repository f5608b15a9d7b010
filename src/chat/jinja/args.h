// Binds CallArgs to a Python-style signature for built-in filters, tests, methods and
// functions, with Python's TypeError messages for wrong calls.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja/value.h"

namespace cria::chat::jinja {

class ArgBinder {
  public:
    // `function` names the callee in messages; `params` lists the parameter names in positional
    // order; the first `required` of them must be given.
    ArgBinder(std::string_view function, const CallArgs& args,
              std::initializer_list<std::string_view> params, size_t required = 0);

    // The argument bound to parameter `index`, or nullptr when not given.
    const Value* get(size_t index) const { return bound_[index]; }
    bool has(size_t index) const { return bound_[index] != nullptr; }
    Value get_or(size_t index, Value fallback) const {
        return bound_[index] != nullptr ? *bound_[index] : std::move(fallback);
    }

  private:
    std::vector<const Value*> bound_;
};

// Typed argument readers with Python's TypeError wording.
int64_t require_int(const Value& value, std::string_view what);
const std::string& require_string(const Value& value, std::string_view what);

}  // namespace cria::chat::jinja
