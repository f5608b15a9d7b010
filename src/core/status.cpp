#include "core/status.h"

namespace cria {

const char* error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::kOk:
            return "ok";
        case ErrorCode::kInvalidArgument:
            return "invalid_argument";
        case ErrorCode::kNotFound:
            return "not_found";
        case ErrorCode::kCorrupt:
            return "corrupt";
        case ErrorCode::kUnsupported:
            return "unsupported";
        case ErrorCode::kOutOfRange:
            return "out_of_range";
        case ErrorCode::kIo:
            return "io";
        case ErrorCode::kResourceExhausted:
            return "resource_exhausted";
        case ErrorCode::kCancelled:
            return "cancelled";
        case ErrorCode::kUnavailable:
            return "unavailable";
        case ErrorCode::kInternal:
            return "internal";
    }
    return "unknown";
}

}  // namespace cria
