#include "store/digest.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace cria::store {
namespace {

constexpr const char* kEmptySha =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(Digest, HashesKnownVectors) {
    EXPECT_EQ(Digest::of_bytes("").hex(), kEmptySha);
    EXPECT_EQ(Digest::of_bytes("abc").hex(),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, StreamingMatchesOneShot) {
    Sha256 hash;
    hash.update("a", 1);
    hash.update("bc", 2);
    EXPECT_EQ(hash.finish(), Digest::of_bytes("abc"));
}

TEST(Digest, ParsesBothSeparatorsAndNormalizesCase) {
    auto colon = Digest::parse(std::string("sha256:") + kEmptySha);
    ASSERT_TRUE(colon);
    EXPECT_EQ(colon->str(), std::string("sha256:") + kEmptySha);
    EXPECT_EQ(colon->file_name(), std::string("sha256-") + kEmptySha);
    std::string upper = std::string("sha256-") + kEmptySha;
    for (size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
    auto dash = Digest::parse(upper);
    ASSERT_TRUE(dash);
    EXPECT_EQ(*dash, *colon);
}

TEST(Digest, RejectsAnythingElse) {
    const std::string good = std::string("sha256:") + kEmptySha;
    for (const std::string& bad : {
             std::string(""),
             std::string("sha256:"),
             good.substr(0, good.size() - 1),
             good + "0",
             std::string("sha512:") + kEmptySha,
             std::string("sha256/") + kEmptySha,
             std::string("sha256:../../../../etc/passwd"),
             "sha256:" + std::string(kEmptySha).substr(0, 60) + "/../",
             "sha256:" + std::string(kEmptySha).substr(0, 63) + "g",
             std::string("SHA256:") + kEmptySha,
         }) {
        EXPECT_FALSE(Digest::parse(bad)) << bad;
    }
}

TEST(Digest, HashesFiles) {
    const auto path = test::temp_dir() / "digest_file.bin";
    test::write_file(path, "abc");
    auto digest = Digest::of_file(path);
    ASSERT_TRUE(digest);
    EXPECT_EQ(*digest, Digest::of_bytes("abc"));
    EXPECT_FALSE(Digest::of_file(test::temp_dir() / "missing.bin"));
}

}  // namespace
}  // namespace cria::store
