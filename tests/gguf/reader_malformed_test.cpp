// Every malformed file here is built byte by byte and must be rejected with a message that names
// the problem.
#include <gtest/gtest.h>

#include <string>

#include "gguf/reader.h"
#include "gguf_builder.h"

namespace cria::gguf {
namespace {

using test::GgufBytes;

constexpr uint32_t kTypeF32 = 0;
constexpr uint32_t kTypeQ4_0 = 2;
constexpr uint32_t kTypeF64 = 28;

struct MalformedCase {
    std::string name;
    std::vector<uint8_t> bytes;
    std::string expected_message;  // a substring of the error
};

uint32_t vt(ValueType t) {
    return static_cast<uint32_t>(t);
}

std::vector<MalformedCase> malformed_cases() {
    std::vector<MalformedCase> cases;
    auto add = [&](std::string name, GgufBytes b, std::string message) {
        cases.push_back({std::move(name), std::move(b.bytes), std::move(message)});
    };
    add("empty", GgufBytes(), "file too small");
    add("bad_magic", GgufBytes().u32(0x46554746).u32(3).u64(0).u64(0), "bad magic");
    add("version_1", GgufBytes().header(0, 0, 1), "GGUF version 1 is not supported");
    add("version_99", GgufBytes().header(0, 0, 99), "unsupported GGUF version 99");
    add("big_endian", GgufBytes().header(0, 0, 0x03000000), "big-endian");
    add("truncated_header", GgufBytes().u32(kMagic).u32(3).u32(0),
        "truncated while reading the tensor count");
    add("key_count_too_large", GgufBytes().header(0, 1ull << 40), "metadata key count");
    add("tensor_count_too_large", GgufBytes().header(1ull << 40, 0), "tensor count");
    add("key_longer_than_file", GgufBytes().header(0, 1).u64(1000).zeros(20),
        "longer than the rest of the file");
    add("key_over_cap", GgufBytes().header(0, 1).kv_u32(std::string(2000, 'k'), 1),
        "exceeds the cap");
    add("empty_key", GgufBytes().header(0, 1).kv_u32("", 1), "is empty");
    add("duplicate_key", GgufBytes().header(0, 2).kv_u32("a.b", 1).kv_u32("a.b", 2),
        "duplicate metadata key 'a.b'");
    add("unknown_value_type", GgufBytes().header(0, 1).str("k").u32(13).u32(0),
        "unknown value type 13");
    add("bool_not_0_or_1", GgufBytes().header(0, 1).str("k").u32(vt(ValueType::kBool)).u8(2),
        "neither 0 nor 1");
    add("array_count_too_large",
        GgufBytes()
            .header(0, 1)
            .str("k")
            .u32(vt(ValueType::kArray))
            .u32(vt(ValueType::kUint32))
            .u64(1ull << 50)
            .zeros(16),
        "cannot fit in the rest of the file");
    add("array_unknown_element_type",
        GgufBytes().header(0, 1).str("k").u32(vt(ValueType::kArray)).u32(77).u64(1).zeros(8),
        "unknown array element type 77");
    {
        GgufBytes b;
        b.header(0, 1).str("k").u32(vt(ValueType::kArray));
        for (int depth = 0; depth < 12; ++depth) b.u32(vt(ValueType::kArray)).u64(1);
        b.u32(vt(ValueType::kUint8)).u64(0).zeros(64);
        add("arrays_nested_too_deep", b, "nested deeper than 8");
    }
    add("string_longer_than_file",
        GgufBytes().header(0, 1).str("k").u32(vt(ValueType::kString)).u64(1ull << 33).zeros(4),
        "longer than the rest of the file");
    add("alignment_not_power_of_two", GgufBytes().header(0, 1).kv_u32("general.alignment", 48),
        "general.alignment 48 is not a power of two");
    add("alignment_zero", GgufBytes().header(0, 1).kv_u32("general.alignment", 0),
        "general.alignment 0 is not a power of two");
    add("alignment_absurd", GgufBytes().header(0, 1).kv_u32("general.alignment", 1u << 30),
        "exceeds");
    add("alignment_wrong_type",
        GgufBytes().header(0, 1).str("general.alignment").u32(vt(ValueType::kUint64)).u64(32),
        "general.alignment must be a u32");
    add("five_dimensions",
        GgufBytes().header(1, 0).tensor("t", {1, 1, 1, 1, 1}, kTypeF32, 0).pad().zeros(32),
        "has 5 dimensions");
    add("zero_dimensions", GgufBytes().header(1, 0).tensor("t", {}, kTypeF32, 0).zeros(64),
        "has 0 dimensions");
    add("dimension_zero", GgufBytes().header(1, 0).tensor("t", {4, 0}, kTypeF32, 0).pad().zeros(32),
        "invalid dimension 1 = 0");
    add("dimension_negative",
        GgufBytes().header(1, 0).tensor("t", {~0ull}, kTypeF32, 0).pad().zeros(32),
        "invalid dimension 0 = -1");
    add("element_count_overflow",
        GgufBytes().header(1, 0).tensor("t", {1ull << 32, 1ull << 32}, kTypeF32, 0).pad().zeros(32),
        "element count overflows 64 bits");
    add("byte_size_overflow",
        GgufBytes().header(1, 0).tensor("t", {1ull << 62}, kTypeF64, 0).pad().zeros(32),
        "byte size overflows 64 bits");
    add("unknown_tensor_type", GgufBytes().header(1, 0).tensor("t", {4}, 4, 0).pad().zeros(32),
        "unknown tensor type id 4");
    add("row_not_multiple_of_block",
        GgufBytes().header(1, 0).tensor("t", {33}, kTypeQ4_0, 0).pad().zeros(64),
        "not a multiple of the Q4_0 block size 32");
    add("offset_unaligned", GgufBytes().header(1, 0).tensor("t", {4}, kTypeF32, 4).pad().zeros(64),
        "not a multiple of the alignment 32");
    add("data_outside_file",
        GgufBytes().header(1, 0).tensor("t", {1024}, kTypeF32, 0).pad().zeros(64),
        "lies outside the file");
    add("tensors_overlap",
        GgufBytes()
            .header(2, 0)
            .tensor("a", {16}, kTypeF32, 0)
            .tensor("b", {16}, kTypeF32, 32)
            .pad()
            .zeros(128),
        "tensors 'a' and 'b' overlap");
    add("duplicate_tensor_name",
        GgufBytes()
            .header(2, 0)
            .tensor("a", {8}, kTypeF32, 0)
            .tensor("a", {8}, kTypeF32, 32)
            .pad()
            .zeros(64),
        "duplicate tensor name 'a'");
    add("empty_tensor_name", GgufBytes().header(1, 0).tensor("", {8}, kTypeF32, 0).pad().zeros(32),
        "has an empty name");
    add("tensor_name_over_cap",
        GgufBytes().header(1, 0).tensor(std::string(300, 'n'), {8}, kTypeF32, 0).pad().zeros(32),
        "exceeds the cap");
    add("truncated_tensor_info",
        GgufBytes().header(1, 0).str("tensor_with_a_longer_name").u32(2).u64(4),
        "truncated while reading a tensor dimension");
    add("truncated_before_data",
        GgufBytes().header(1, 1).kv_u32("general.alignment", 64).tensor("t", {8}, kTypeF32, 0),
        "truncated before the aligned tensor data section");
    return cases;
}

class MalformedGguf : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedGguf, IsRejectedWithMessage) {
    const MalformedCase& c = GetParam();
    auto file = File::parse(c.bytes.data(), c.bytes.size());
    ASSERT_FALSE(file.has_value()) << c.name << " was accepted";
    EXPECT_NE(file.status().message().find(c.expected_message), std::string::npos)
        << c.name << ": got \"" << file.status().message() << "\", expected to contain \""
        << c.expected_message << "\"";
}

INSTANTIATE_TEST_SUITE_P(Reader, MalformedGguf, ::testing::ValuesIn(malformed_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(MalformedGguf, AtLeastTwentyFiveCases) {
    EXPECT_GE(malformed_cases().size(), 25u);
}

}  // namespace
}  // namespace cria::gguf
