// Errors as values: Status for operations without a result, Expected<T> for those with one.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace cria {

enum class ErrorCode {
    kOk = 0,
    kInvalidArgument,    // caller passed something malformed
    kNotFound,           // a named thing does not exist
    kCorrupt,            // a file or stream does not follow its format
    kUnsupported,        // well-formed but not something cria can handle
    kOutOfRange,         // an index, size or count outside its limit
    kIo,                 // the operating system refused a read/write/map
    kResourceExhausted,  // a cap (memory, time, output size) was reached
    kCancelled,          // the caller asked to stop
    kUnavailable,        // not now (loading, unloading, shutting down): retrying may work
    kInternal,           // a bug or an invariant that did not hold
};

const char* error_code_name(ErrorCode code);

class [[nodiscard]] Status {
  public:
    Status() = default;
    Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok() { return {}; }
    bool is_ok() const { return code_ == ErrorCode::kOk; }
    explicit operator bool() const { return is_ok(); }
    ErrorCode code() const { return code_; }
    const std::string& message() const { return message_; }
    // "message" alone: the code is for programs, the message for people.
    std::string to_string() const { return message_; }

  private:
    ErrorCode code_ = ErrorCode::kOk;
    std::string message_;
};

inline Status invalid_argument(std::string m) {
    return {ErrorCode::kInvalidArgument, std::move(m)};
}
inline Status not_found(std::string m) {
    return {ErrorCode::kNotFound, std::move(m)};
}
inline Status corrupt(std::string m) {
    return {ErrorCode::kCorrupt, std::move(m)};
}
inline Status unsupported(std::string m) {
    return {ErrorCode::kUnsupported, std::move(m)};
}
inline Status out_of_range(std::string m) {
    return {ErrorCode::kOutOfRange, std::move(m)};
}
inline Status io_error(std::string m) {
    return {ErrorCode::kIo, std::move(m)};
}
inline Status resource_exhausted(std::string m) {
    return {ErrorCode::kResourceExhausted, std::move(m)};
}
inline Status unavailable(std::string m) {
    return {ErrorCode::kUnavailable, std::move(m)};
}
inline Status cancelled(std::string m) {
    return {ErrorCode::kCancelled, std::move(m)};
}
inline Status internal_error(std::string m) {
    return {ErrorCode::kInternal, std::move(m)};
}

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Expected {
  public:
    Expected(T value) : storage_(std::move(value)) {}        // NOLINT: implicit by design
    Expected(Status status) : storage_(std::move(status)) {  // NOLINT
        assert(!std::get<Status>(storage_).is_ok() && "Expected built from an ok Status");
    }

    bool has_value() const { return std::holds_alternative<T>(storage_); }
    explicit operator bool() const { return has_value(); }

    T& value() & {
        assert(has_value());
        return std::get<T>(storage_);
    }
    const T& value() const& {
        assert(has_value());
        return std::get<T>(storage_);
    }
    T&& value() && {
        assert(has_value());
        return std::get<T>(std::move(storage_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Status& status() const {
        static const Status kOkStatus;
        return has_value() ? kOkStatus : std::get<Status>(storage_);
    }

  private:
    std::variant<T, Status> storage_;
};

}  // namespace cria

// Propagate a non-ok Status from an expression returning Status.
#define CRIA_RETURN_IF_ERROR(expr)                      \
    do {                                                \
        ::cria::Status cria_status_ = (expr);           \
        if (!cria_status_.is_ok()) return cria_status_; \
    } while (0)

#define CRIA_CONCAT_INNER(a, b) a##b
#define CRIA_CONCAT(a, b) CRIA_CONCAT_INNER(a, b)
// Bind the value of an Expected<T> expression to `lhs`, or return its Status.
#define CRIA_ASSIGN_OR_RETURN(lhs, expr) \
    CRIA_ASSIGN_OR_RETURN_IMPL(CRIA_CONCAT(cria_expected_, __LINE__), lhs, expr)
#define CRIA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                             \
    if (!tmp.has_value()) return tmp.status();     \
    lhs = std::move(tmp).value()
