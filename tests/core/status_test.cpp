#include "core/status.h"

#include <gtest/gtest.h>

namespace cria {
namespace {

Expected<int> parse_positive(int v) {
    if (v <= 0) return invalid_argument("not positive: " + std::to_string(v));
    return v;
}

Expected<int> doubled(int v) {
    CRIA_ASSIGN_OR_RETURN(int checked, parse_positive(v));
    return checked * 2;
}

TEST(Status, OkAndError) {
    EXPECT_TRUE(Status::ok().is_ok());
    Status s = corrupt("bad magic");
    EXPECT_FALSE(s.is_ok());
    EXPECT_EQ(s.code(), ErrorCode::kCorrupt);
    EXPECT_EQ(s.message(), "bad magic");
}

TEST(Expected, PropagatesErrors) {
    EXPECT_EQ(*doubled(4), 8);
    auto bad = doubled(-1);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.status().message(), "not positive: -1");
}

}  // namespace
}  // namespace cria
