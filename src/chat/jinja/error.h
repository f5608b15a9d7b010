// The engine's internal error. Every failure inside lexing, parsing and rendering is thrown as
// an Error and converted to a cria::Status at the public boundary (chat_template.cpp): a
// template's evaluation is deeply recursive and almost every operation can fail, so unwinding
// with one exception type keeps the evaluator readable. No exception leaves the chat library.
#pragma once

#include <cstdint>
#include <exception>
#include <string>

namespace cria::chat::jinja {

// The Python exception class a template author would see from Hugging Face's renderer; the
// name prefixes the message so errors read the same as there ("TemplateError: ...").
enum class ErrorKind {
    kSyntax,          // TemplateSyntaxError
    kTemplate,        // TemplateError, raised by raise_exception()
    kUndefined,       // UndefinedError
    kType,            // TypeError
    kValue,           // ValueError
    kZeroDivision,    // ZeroDivisionError
    kOverflow,        // OverflowError
    kIndex,           // IndexError
    kKey,             // KeyError
    kSecurity,        // SecurityError
    kRuntime,         // TemplateRuntimeError
    kAssertion,       // TemplateAssertionError (unknown filter or test)
    kFilterArgument,  // FilterArgumentError
    kAttribute,       // AttributeError
    kLimit,           // a sandbox cap was exceeded (output size, iterations, depth, time)
};

const char* error_kind_name(ErrorKind kind);

inline constexpr uint32_t kNoOffset = UINT32_MAX;

class Error : public std::exception {
  public:
    Error(ErrorKind kind, std::string message, uint32_t offset = kNoOffset)
        : kind_(kind), message_(std::move(message)), offset_(offset) {}

    const char* what() const noexcept override { return message_.c_str(); }
    ErrorKind kind() const { return kind_; }
    const std::string& message() const { return message_; }
    // Byte offset into the template source where the error happened, or kNoOffset.
    uint32_t offset() const { return offset_; }
    void set_offset(uint32_t offset) { offset_ = offset; }

  private:
    ErrorKind kind_;
    std::string message_;
    uint32_t offset_;
};

[[noreturn]] void fail(ErrorKind kind, std::string message);

}  // namespace cria::chat::jinja
