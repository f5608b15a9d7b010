#include "store/manifest.h"

#include <gtest/gtest.h>

namespace cria::store {
namespace {

const std::string kHexA(64, 'a');
const std::string kHexB(64, 'b');

std::string manifest_text(const std::string& layer_digest) {
    return R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
      "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:)" +
           kHexA + R"(","size":10},
      "layers":[{"mediaType":"application/vnd.ollama.image.model","digest":")" +
           layer_digest + R"(","size":1000}]})";
}

TEST(Manifest, RoundTrips) {
    auto manifest = Manifest::parse(manifest_text("sha256:" + kHexB));
    ASSERT_TRUE(manifest) << manifest.status().message();
    EXPECT_EQ(manifest->layers.size(), 1u);
    EXPECT_EQ(manifest->total_size(), 1010u);
    ASSERT_NE(manifest->find(media_type::kModel), nullptr);
    EXPECT_EQ(manifest->find(media_type::kTemplate), nullptr);
    auto again = Manifest::parse(manifest->to_json().dump());
    ASSERT_TRUE(again);
    EXPECT_EQ(again->to_json(), manifest->to_json());
    EXPECT_EQ(again->all_digests().size(), 2u);
}

TEST(Manifest, RefusesBadDigestsAndShapes) {
    EXPECT_FALSE(Manifest::parse(manifest_text("sha256:../../etc/passwd")));
    EXPECT_FALSE(Manifest::parse(manifest_text("sha256:" + kHexB.substr(1) + "/")));
    EXPECT_FALSE(Manifest::parse("not json"));
    EXPECT_FALSE(Manifest::parse("[]"));
    EXPECT_FALSE(Manifest::parse(R"({"schemaVersion":1,"config":{},"layers":[]})"));
    std::string negative = manifest_text("sha256:" + kHexB);
    negative.replace(negative.find("1000"), 4, "-1");
    EXPECT_FALSE(Manifest::parse(negative));
}

}  // namespace
}  // namespace cria::store
