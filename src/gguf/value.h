// A GGUF metadata value: a scalar, a string, or an array of values (arrays may nest).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cria::gguf {

// GGUF's on-disk value type ids.
enum class ValueType : uint32_t {
    kUint8 = 0,
    kInt8 = 1,
    kUint16 = 2,
    kInt16 = 3,
    kUint32 = 4,
    kInt32 = 5,
    kFloat32 = 6,
    kBool = 7,
    kString = 8,
    kArray = 9,
    kUint64 = 10,
    kInt64 = 11,
    kFloat64 = 12,
};

std::string_view value_type_name(ValueType type);
bool is_valid_value_type(uint32_t id);

class Value {
  public:
    using Array = std::vector<Value>;

    Value() = default;
    static Value u8(uint8_t v) { return Value(ValueType::kUint8, uint64_t{v}); }
    static Value i8(int8_t v) { return Value(ValueType::kInt8, int64_t{v}); }
    static Value u16(uint16_t v) { return Value(ValueType::kUint16, uint64_t{v}); }
    static Value i16(int16_t v) { return Value(ValueType::kInt16, int64_t{v}); }
    static Value u32(uint32_t v) { return Value(ValueType::kUint32, uint64_t{v}); }
    static Value i32(int32_t v) { return Value(ValueType::kInt32, int64_t{v}); }
    static Value u64(uint64_t v) { return Value(ValueType::kUint64, v); }
    static Value i64(int64_t v) { return Value(ValueType::kInt64, v); }
    static Value f32(float v) { return Value(ValueType::kFloat32, double{v}); }
    static Value f64(double v) { return Value(ValueType::kFloat64, v); }
    static Value boolean(bool v) { return Value(ValueType::kBool, v); }
    static Value string(std::string v) { return Value(ValueType::kString, std::move(v)); }
    // element_type is kept even for an empty array so that writing round-trips.
    static Value array(ValueType element_type, Array items);
    static Value string_array(const std::vector<std::string>& items);
    static Value f32_array(const std::vector<float>& items);
    static Value i32_array(const std::vector<int32_t>& items);

    ValueType type() const { return type_; }
    ValueType element_type() const { return element_type_; }
    bool is_integer() const;
    bool is_float() const { return type_ == ValueType::kFloat32 || type_ == ValueType::kFloat64; }
    bool is_string() const { return type_ == ValueType::kString; }
    bool is_array() const { return type_ == ValueType::kArray; }
    bool is_bool() const { return type_ == ValueType::kBool; }

    // Numeric views; nullopt when the value is not of a compatible kind or does not fit.
    std::optional<uint64_t> as_u64() const;
    std::optional<int64_t> as_i64() const;
    std::optional<double> as_f64() const;  // integers convert too
    std::optional<bool> as_bool() const;
    const std::string* as_string() const;
    const Array* as_array() const;

    // One-line rendering for display, arrays shortened to their first few items.
    std::string to_display_string(size_t max_items = 8) const;

  private:
    template <typename T>
    Value(ValueType type, T payload) : type_(type), payload_(std::move(payload)) {}

    ValueType type_ = ValueType::kUint8;
    ValueType element_type_ = ValueType::kUint8;
    std::variant<uint64_t, int64_t, double, bool, std::string, Array> payload_{uint64_t{0}};
};

}  // namespace cria::gguf
