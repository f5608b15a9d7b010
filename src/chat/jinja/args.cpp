#include "chat/jinja/args.h"

namespace cria::chat::jinja {

ArgBinder::ArgBinder(std::string_view function, const CallArgs& args,
                     std::initializer_list<std::string_view> params, size_t required)
    : bound_(params.size(), nullptr) {
    const std::vector<std::string_view> names(params);
    if (args.positional.size() > names.size()) {
        fail(ErrorKind::kType, std::string(function) + "() takes at most " +
                                   std::to_string(names.size()) + " argument(s) (" +
                                   std::to_string(args.positional.size()) + " given)");
    }
    for (size_t i = 0; i < args.positional.size(); ++i) bound_[i] = &args.positional[i];
    for (const auto& [key, value] : args.keyword) {
        size_t index = names.size();
        for (size_t j = 0; j < names.size(); ++j) {
            if (names[j] == key) index = j;
        }
        if (index == names.size()) {
            fail(ErrorKind::kType,
                 std::string(function) + "() got an unexpected keyword argument '" + key + "'");
        }
        if (bound_[index] != nullptr) {
            fail(ErrorKind::kType,
                 std::string(function) + "() got multiple values for argument '" + key + "'");
        }
        bound_[index] = &value;
    }
    for (size_t j = 0; j < required; ++j) {
        if (bound_[j] == nullptr) {
            fail(ErrorKind::kType, std::string(function) + "() missing required argument '" +
                                       std::string(names[j]) + "'");
        }
    }
}

int64_t require_int(const Value& value, std::string_view what) {
    if (value.is_undefined()) value.fail_undefined();
    if (!value.is_integral()) {
        fail(ErrorKind::kType, "'" + value.type_name() +
                                   "' object cannot be interpreted as an "
                                   "integer (" +
                                   std::string(what) + ")");
    }
    return value.as_int();
}

const std::string& require_string(const Value& value, std::string_view what) {
    if (value.is_undefined()) value.fail_undefined();
    if (!value.is_string()) {
        fail(ErrorKind::kType, std::string(what) + " must be str, not " + value.type_name());
    }
    return value.as_string();
}

}  // namespace cria::chat::jinja
