#include "core/large_buffer.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace cria {
namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}

LargeBuffer::LargeBuffer(LargeBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)),
      map_offset_(std::exchange(other.map_offset_, 0)) {}

LargeBuffer& LargeBuffer::operator=(LargeBuffer&& other) noexcept {
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        mapped_ = std::exchange(other.mapped_, 0);
        map_offset_ = std::exchange(other.map_offset_, 0);
    }
    return *this;
}

LargeBuffer::~LargeBuffer() {
    release();
}

void LargeBuffer::release() {
    if (data_ != nullptr) munmap(data_ - map_offset_, mapped_);
    data_ = nullptr;
    size_ = mapped_ = map_offset_ = 0;
}

Expected<LargeBuffer> LargeBuffer::allocate(size_t bytes) {
    LargeBuffer buffer;
    if (bytes == 0) return buffer;
    // Over-allocate by one huge page so that the start can be aligned to one.
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    if (rounded < bytes) return resource_exhausted("buffer size overflows");
    const size_t mapped = rounded + kHugePage;
    void* addr = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (addr == MAP_FAILED) {
        return resource_exhausted("cannot allocate " + std::to_string(bytes) +
                                  " bytes: " + std::strerror(errno));
    }
    auto* start = static_cast<uint8_t*>(addr);
    const auto misalignment = reinterpret_cast<uintptr_t>(start) % kHugePage;
    buffer.map_offset_ = misalignment == 0 ? 0 : kHugePage - misalignment;
    buffer.data_ = start + buffer.map_offset_;
    buffer.size_ = bytes;
    buffer.mapped_ = mapped;
    // Best effort: without transparent huge pages the buffer works the same, only slower.
    madvise(buffer.data_, rounded, MADV_HUGEPAGE);
    return buffer;
}

}  // namespace cria
