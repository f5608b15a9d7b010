#include "core/cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace cria {
namespace {

CpuFeatures detect() {
    CpuFeatures f;
#if defined(__x86_64__)
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
    const bool osxsave = (ecx & (1u << 27)) != 0;
    const bool cpu_avx = (ecx & (1u << 28)) != 0;
    f.fma = (ecx & (1u << 12)) != 0;
    f.f16c = (ecx & (1u << 29)) != 0;
    if (!osxsave || !cpu_avx) return f;
    unsigned xcr0_lo = 0, xcr0_hi = 0;
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    const bool os_avx = (xcr0_lo & 0x6u) == 0x6u;
    const bool os_avx512 = (xcr0_lo & 0xE6u) == 0xE6u;
    if (!os_avx) return f;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    f.avx2 = (ebx & (1u << 5)) != 0;
    if (os_avx512) {
        f.avx512f = (ebx & (1u << 16)) != 0;
        f.avx512dq = (ebx & (1u << 17)) != 0;
        f.avx512bw = (ebx & (1u << 30)) != 0;
        f.avx512vl = (ebx & (1u << 31)) != 0;
        f.avx512vnni = (ecx & (1u << 11)) != 0;
        unsigned eax1 = 0, ebx1 = 0, ecx1 = 0, edx1 = 0;
        __cpuid_count(7, 1, eax1, ebx1, ecx1, edx1);
        f.avx512bf16 = (eax1 & (1u << 5)) != 0;
    }
#endif
    return f;
}

Isa parse_isa(const char* text, Isa fallback) {
    if (text == nullptr) return fallback;
    if (std::strcmp(text, "scalar") == 0) return Isa::kScalar;
    if (std::strcmp(text, "avx2") == 0) return Isa::kAvx2;
    if (std::strcmp(text, "avx512") == 0) return Isa::kAvx512;
    return fallback;
}

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures features = detect();
    return features;
}

bool isa_supported(Isa isa) {
    const CpuFeatures& f = cpu_features();
    switch (isa) {
        case Isa::kScalar:
            return true;
        case Isa::kAvx2:
            return f.avx2 && f.fma && f.f16c;
        case Isa::kAvx512:
            return isa_supported(Isa::kAvx2) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
    }
    return false;
}

Isa best_supported_isa() {
    if (isa_supported(Isa::kAvx512)) return Isa::kAvx512;
    if (isa_supported(Isa::kAvx2)) return Isa::kAvx2;
    return Isa::kScalar;
}

Isa selected_isa() {
    const Isa best = best_supported_isa();
    const Isa wanted = parse_isa(std::getenv("CRIA_ISA"), best);
    return static_cast<int>(wanted) < static_cast<int>(best) ? wanted : best;
}

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::kScalar:
            return "scalar";
        case Isa::kAvx2:
            return "avx2";
        case Isa::kAvx512:
            return "avx512";
    }
    return "?";
}

}  // namespace cria
