// UTF-8 encoding, shared by the tokenizers and the template engine.
#pragma once

#include <cstdint>
#include <string>

namespace cria {

// Appends `cp` encoded as UTF-8; a value above U+10FFFF becomes U+FFFD.
void append_utf8(std::string& out, uint32_t cp);

}  // namespace cria
