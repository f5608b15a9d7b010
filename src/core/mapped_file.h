// Read-only memory map of a whole file. Models are mapped, never copied, so that loading is
// instant and several processes share the page cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace cria {

class MappedFile {
  public:
    MappedFile() = default;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    ~MappedFile();

    static Expected<MappedFile> open(const std::string& path);

    const uint8_t* data() const { return data_; }
    // Tells the OS that the mapped bytes [p, p + n) will not be read for a while: the whole pages
    // among them leave this process's resident memory (they stay in the page cache and are read
    // back from it if touched again). Content never changes; no-op outside the mapping.
    void advise_unused(const void* p, size_t n) const;
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }

  private:
    void release();

    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    std::string path_;
};

}  // namespace cria
