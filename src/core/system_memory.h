// What the machine's memory allows: the policies that size caches and decide how many models
// stay loaded read it from here.
#pragma once

#include <cstdint>
#include <optional>

namespace cria {

// Installed memory in bytes; nullopt when the system does not say.
std::optional<uint64_t> physical_memory_bytes();
// /proc/meminfo's MemAvailable in bytes (memory that can be used without swapping); nullopt
// when unknown.
std::optional<uint64_t> available_memory_bytes();

}  // namespace cria
