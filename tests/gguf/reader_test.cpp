#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "gguf/model_summary.h"
#include "gguf/reader.h"
#include "gguf/writer.h"
#include "test_support.h"

namespace cria::gguf {
namespace {

Writer sample_writer() {
    Writer w;
    w.set("general.architecture", Value::string("llama"));
    w.set("u8", Value::u8(200));
    w.set("i8", Value::i8(-100));
    w.set("u16", Value::u16(60000));
    w.set("i16", Value::i16(-30000));
    w.set("u32", Value::u32(4000000000u));
    w.set("i32", Value::i32(-2000000000));
    w.set("u64", Value::u64(1ull << 60));
    w.set("i64", Value::i64(-(1ll << 60)));
    w.set("f32", Value::f32(1.5f));
    w.set("f64", Value::f64(-2.25));
    w.set("bool", Value::boolean(true));
    w.set("llama.context_length", Value::u32(2048));
    w.set("strings", Value::string_array({"a", "", "ünïcode"}));
    w.set("nested", Value::array(ValueType::kArray, {Value::i32_array({1, 2}), Value::i32_array({}),
                                                     Value::array(ValueType::kString, {})}));
    EXPECT_TRUE(w.add_f32_tensor("weights", {4, 2}, {0, 1, 2, 3, 4, 5, 6, 7}).is_ok());
    EXPECT_TRUE(w.add_tensor("q", TensorType::kQ8_0, {32}, std::vector<uint8_t>(34, 1)).is_ok());
    return w;
}

TEST(Reader, RoundTripsEveryValueType) {
    const std::vector<uint8_t> bytes = sample_writer().to_bytes();
    auto parsed = File::parse(bytes.data(), bytes.size());
    ASSERT_TRUE(parsed.has_value()) << parsed.status().message();
    const File& f = **parsed;
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.get_u64("u8", 0), 200u);
    EXPECT_EQ(*f.find("i8")->as_i64(), -100);
    EXPECT_EQ(f.get_u64("u16", 0), 60000u);
    EXPECT_EQ(*f.find("i16")->as_i64(), -30000);
    EXPECT_EQ(f.get_u64("u32", 0), 4000000000u);
    EXPECT_EQ(*f.find("i32")->as_i64(), -2000000000);
    EXPECT_EQ(f.get_u64("u64", 0), 1ull << 60);
    EXPECT_EQ(*f.find("i64")->as_i64(), -(1ll << 60));
    EXPECT_EQ(f.get_f64("f32", 0), 1.5);
    EXPECT_EQ(f.get_f64("f64", 0), -2.25);
    EXPECT_TRUE(f.get_bool("bool", false));
    const auto* strings = f.find("strings")->as_array();
    ASSERT_EQ(strings->size(), 3u);
    EXPECT_EQ(*(*strings)[2].as_string(), "ünïcode");
    const Value* nested = f.find("nested");
    ASSERT_EQ(nested->element_type(), ValueType::kArray);
    ASSERT_EQ(nested->as_array()->size(), 3u);
    EXPECT_EQ(*(*nested->as_array())[0].as_array()->at(1).as_i64(), 2);
    EXPECT_EQ((*nested->as_array())[2].element_type(), ValueType::kString);

    const TensorInfo* weights = f.find_tensor("weights");
    ASSERT_NE(weights, nullptr);
    EXPECT_EQ(weights->n_elements, 8u);
    EXPECT_EQ(weights->rows(), 2);
    EXPECT_EQ(reinterpret_cast<const float*>(weights->data)[5], 5.0f);
    EXPECT_EQ(f.find_tensor("q")->n_bytes, 34u);
    EXPECT_EQ(f.find_tensor("missing"), nullptr);
}

TEST(Reader, AcceptsVersion2AndCustomAlignment) {
    Writer w(64);
    ASSERT_TRUE(w.add_f32_tensor("a", {3}, {1, 2, 3}).is_ok());
    ASSERT_TRUE(w.add_f32_tensor("b", {5}, {1, 2, 3, 4, 5}).is_ok());
    std::vector<uint8_t> bytes = w.to_bytes();
    bytes[4] = 2;  // version field
    auto parsed = File::parse(bytes.data(), bytes.size());
    ASSERT_TRUE(parsed.has_value()) << parsed.status().message();
    EXPECT_EQ((*parsed)->version(), 2u);
    EXPECT_EQ((*parsed)->alignment(), 64u);
    EXPECT_EQ((*parsed)->find_tensor("b")->offset % 64, 0u);
}

TEST(Reader, EveryTruncationIsRejectedCleanly) {
    const std::vector<uint8_t> bytes = sample_writer().to_bytes();
    auto whole = File::parse(bytes.data(), bytes.size());
    ASSERT_TRUE(whole.has_value());
    // Past the end of the last tensor's data only padding remains, which a file may omit.
    uint64_t data_end = 0;
    for (const auto& t : (*whole)->tensors()) data_end = std::max(data_end, t.offset + t.n_bytes);
    const size_t needed = (*whole)->data_offset() + data_end;
    for (size_t length = 0; length < needed; ++length) {
        // A copy of exactly `length` bytes, so that sanitizers see any read past the end.
        std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(length));
        auto parsed = File::parse(prefix.data(), prefix.size());
        EXPECT_FALSE(parsed.has_value()) << "prefix of " << length << " bytes accepted";
    }
}

TEST(Reader, OpenReportsMissingFile) {
    auto parsed = File::open("/nonexistent/model.gguf");
    ASSERT_FALSE(parsed.has_value());
    EXPECT_NE(parsed.status().message().find("cannot open"), std::string::npos);
}

TEST(Reader, EverySharedGgufParses) {
    CRIA_REQUIRE_SHARED(shared);
    int parsed_count = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(shared)) {
        if (entry.path().extension() != ".gguf") continue;
        auto file = File::open(entry.path().string());
        ASSERT_TRUE(file.has_value()) << file.status().message();
        const ModelSummary summary = summarize(**file);
        EXPECT_FALSE(summary.architecture.empty()) << entry.path();
        ++parsed_count;
    }
    EXPECT_GT(parsed_count, 0);
}

TEST(Summary, CountsParametersAndTypes) {
    const std::vector<uint8_t> bytes = sample_writer().to_bytes();
    auto parsed = File::parse(bytes.data(), bytes.size());
    ASSERT_TRUE(parsed.has_value());
    const ModelSummary s = summarize(**parsed);
    EXPECT_EQ(s.architecture, "llama");
    EXPECT_EQ(s.parameters, 8u + 32u);
    EXPECT_EQ(s.context_length, 2048u);
    EXPECT_EQ(s.tensor_types.at("F32"), 1u);
    EXPECT_EQ(s.tensor_types.at("Q8_0"), 1u);
    EXPECT_FALSE(s.has_chat_template);
}

TEST(TensorTypes, KnownLayouts) {
    EXPECT_EQ(tensor_type_info(TensorType::kQ4_K).block_bytes, 144u);
    EXPECT_EQ(tensor_type_info(TensorType::kQ6_K).block_bytes, 210u);
    EXPECT_EQ(tensor_type_info(TensorType::kIQ4_XS).block_bytes, 136u);
    EXPECT_EQ(tensor_type_from_name("MXFP4"), TensorType::kMXFP4);
    EXPECT_FALSE(tensor_type_info(4).has_value());
    EXPECT_FALSE(tensor_type_info(31).has_value());
    EXPECT_EQ(file_type_name(15), "Q4_K_M");
}

}  // namespace
}  // namespace cria::gguf
