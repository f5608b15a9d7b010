// `cria embed` as a user runs it: the shared goldens through --inputs/--output (normalized and
// --no-normalize), a text printed as JSON, and clear errors.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "../engine/embedding_test_support.h"
#include "cli_support.h"

namespace cria::test {
namespace {

namespace fs = std::filesystem;

class EmbedCommand : public ::testing::TestWithParam<std::string> {};

TEST_P(EmbedCommand, MatchesGolden) {
    CRIA_REQUIRE_SHARED(shared);
    const std::string name = GetParam();
    if (name == "absent") GTEST_SKIP() << "no embedding goldens";
    const fs::path dir = shared / "golden" / "embeddings";
    const fs::path out = temp_dir() / (name + ".f32");
    for (bool normalize : {true, false}) {
        const std::string command = cria_binary() + " embed -t 2 --model " +
                                    (dir / (name + ".gguf")).string() + " --inputs " +
                                    (dir / (name + ".inputs")).string() + " --output " +
                                    out.string() + (normalize ? "" : " --no-normalize") + " 2>&1";
        const CommandResult result = run_command(command);
        ASSERT_EQ(result.exit_code, 0) << result.output;
        const auto got = read_f32(out);
        const auto want = read_f32(dir / (name + (normalize ? ".embeddings.f32" : ".pooled.f32")));
        ASSERT_EQ(got.size(), want.size());
        const size_t n_inputs = read_embedding_inputs(dir / (name + ".inputs")).size();
        const size_t width = want.size() / n_inputs;
        const double limit = name == "e-bert" || name == "e-nomic-bert" ? 1e-4 : 3e-3;
        for (size_t i = 0; i < n_inputs; ++i) {
            EXPECT_LE(nmse(got.data() + i * width, want.data() + i * width, width), limit)
                << (normalize ? "normalized" : "pooled") << " input " << i;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Models, EmbedCommand, ::testing::ValuesIn(embedding_golden_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             return test_name_of(info.param);
                         });

TEST(EmbedCommandText, PrintsAUnitVectorAsJson) {
    CRIA_REQUIRE_SHARED(shared);
    const fs::path model = shared / "golden" / "embeddings" / "e-bert.gguf";
    if (!fs::exists(model)) GTEST_SKIP() << model << " is absent";
    const CommandResult result =
        run_command(cria_binary() + " embed -t 2 --model " + model.string() + " 'hello world'");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const nlohmann::json v = nlohmann::json::parse(result.output);
    ASSERT_TRUE(v.is_array());
    ASSERT_EQ(v.size(), 256u);
    double sum = 0.0;
    for (const auto& x : v) sum += x.get<double>() * x.get<double>();
    EXPECT_NEAR(sum, 1.0, 1e-5);
}

TEST(EmbedCommandErrors, NamesTheProblem) {
    CommandResult missing =
        run_command(cria_binary() + " embed --model /nonexistent.gguf --inputs x 2>&1");
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.output.find("cria embed:"), std::string::npos) << missing.output;
    const CommandResult nothing = run_command(cria_binary() + " embed --model x.gguf 2>&1");
    EXPECT_EQ(nothing.exit_code, 1);
}

}  // namespace
}  // namespace cria::test
