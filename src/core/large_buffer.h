// Anonymous memory for large, long-lived arrays such as repacked model weights. It is mapped
// directly (not through malloc) and asks for transparent huge pages: kernels that stream
// hundreds of megabytes per token otherwise spend much of their time on TLB misses, which cost
// even more under a hypervisor (two levels of page tables).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace cria {

class LargeBuffer {
  public:
    LargeBuffer() = default;
    LargeBuffer(const LargeBuffer&) = delete;
    LargeBuffer& operator=(const LargeBuffer&) = delete;
    LargeBuffer(LargeBuffer&& other) noexcept;
    LargeBuffer& operator=(LargeBuffer&& other) noexcept;
    ~LargeBuffer();

    // Zero-filled, 2 MiB-aligned memory of `bytes` bytes (none for 0).
    static Expected<LargeBuffer> allocate(size_t bytes);

    uint8_t* data() const { return data_; }
    size_t size() const { return size_; }

  private:
    void release();

    uint8_t* data_ = nullptr;
    size_t size_ = 0;        // as requested
    size_t mapped_ = 0;      // bytes mapped
    size_t map_offset_ = 0;  // data_ - start of the mapping
};

}  // namespace cria
