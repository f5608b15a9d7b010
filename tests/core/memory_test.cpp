// LargeBuffer (huge-page anonymous memory), MappedFile's advise_unused hint, and MappedFile's
// refusal of files that are not regular files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/large_buffer.h"
#include "core/mapped_file.h"

namespace cria {
namespace {

TEST(LargeBuffer, ZeroFilledAlignedAndWritable) {
    for (size_t bytes : {size_t{2}, size_t{4096}, size_t{3} << 20}) {
        Expected<LargeBuffer> buffer = LargeBuffer::allocate(bytes);
        ASSERT_TRUE(buffer.has_value());
        EXPECT_EQ(buffer.value().size(), bytes);
        uint8_t* data = buffer.value().data();
        EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % (size_t{2} << 20), 0u);
        for (size_t i = 0; i < bytes; ++i) ASSERT_EQ(data[i], 0) << i;
        data[0] = 1;
        data[bytes - 1] = 2;
        LargeBuffer moved = std::move(buffer.value());
        EXPECT_EQ(moved.data()[0], 1);
        EXPECT_EQ(moved.data()[bytes - 1], 2);
        EXPECT_EQ(buffer.value().data(), nullptr);
    }
}

TEST(LargeBuffer, ZeroBytesIsEmpty) {
    Expected<LargeBuffer> buffer = LargeBuffer::allocate(0);
    ASSERT_TRUE(buffer.has_value());
    EXPECT_EQ(buffer.value().data(), nullptr);
    EXPECT_EQ(buffer.value().size(), 0u);
}

TEST(LargeBuffer, AbsurdSizeIsAnError) {
    Expected<LargeBuffer> buffer = LargeBuffer::allocate(~size_t{0} - 4096);
    EXPECT_FALSE(buffer.has_value());
}

TEST(MappedFile, AdviseUnusedKeepsTheContent) {
    const std::string path =
        (std::filesystem::temp_directory_path() / ("cria_mapped_" + std::to_string(getpid())))
            .string();
    std::vector<char> bytes(5 * 4096 + 123);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 + 3);
    {
        std::ofstream out(path, std::ios::binary);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    Expected<MappedFile> file = MappedFile::open(path);
    ASSERT_TRUE(file.has_value());
    const MappedFile& mapped = file.value();
    ASSERT_EQ(mapped.size(), bytes.size());
    // Touch every page, drop the middle ones (and ranges outside the mapping: no effect).
    long sum = 0;
    for (size_t i = 0; i < mapped.size(); ++i) sum += mapped.data()[i];
    EXPECT_NE(sum, 0);
    mapped.advise_unused(mapped.data() + 100, 3 * 4096);
    mapped.advise_unused(mapped.data() - 4096, 100);
    mapped.advise_unused(mapped.data() + mapped.size() - 10, 4096);
    for (size_t i = 0; i < bytes.size(); ++i) {
        ASSERT_EQ(static_cast<char>(mapped.data()[i]), bytes[i]) << i;
    }
    std::filesystem::remove(path);
}

// Opening a FIFO for reading waits for a writer: MappedFile must refuse it at once instead.
TEST(MappedFile, RefusesAFifoWithoutBlocking) {
    const std::string path =
        (std::filesystem::temp_directory_path() / ("cria_fifo_" + std::to_string(getpid())))
            .string();
    std::filesystem::remove(path);
    ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
    auto opened = std::async(std::launch::async, [&] { return MappedFile::open(path); });
    if (opened.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        // Unblock the stuck open so that the test can end, then fail.
        const int writer = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
        opened.wait();
        if (writer >= 0) ::close(writer);
        std::filesystem::remove(path);
        FAIL() << "MappedFile::open blocked on a FIFO";
    }
    Expected<MappedFile> file = opened.get();
    ASSERT_FALSE(file.has_value());
    EXPECT_NE(file.status().message().find("not a regular file"), std::string::npos)
        << file.status().message();
    EXPECT_FALSE(MappedFile::open(std::filesystem::temp_directory_path().string()).has_value());
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace cria
