#include "tokenizer/string_map.h"

namespace cria::tokenizer {
namespace {

// 64x64 -> 128-bit multiply folded to 64 bits: a cheap mixer whose low bits depend on every
// input bit, which linear probing (it uses the low bits) needs.
uint64_t fold_multiply(uint64_t a, uint64_t b) {
    const __uint128_t product = static_cast<__uint128_t>(a) * b;
    return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}

}  // namespace

uint64_t hash_bytes(std::string_view bytes, uint64_t seed) {
    const char* p = bytes.data();
    size_t n = bytes.size();
    uint64_t h = seed ^ 0xA0761D6478BD642Full;
    while (n >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        h = fold_multiply(h ^ word, 0xE7037ED1A0B428DBull);
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t word = 0;
        std::memcpy(&word, p, n);
        h = fold_multiply(h ^ word, 0x8EBC6AF09C88C6E3ull);
    }
    return fold_multiply(h ^ bytes.size(), 0x589965CC75374CC3ull);
}

}  // namespace cria::tokenizer
