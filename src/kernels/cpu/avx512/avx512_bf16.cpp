// AVX-512 BF16 kernels.
#include "kernels/kernel_table.h"

namespace cria::kernels {

GemmFn gemm_avx512_bf16(gguf::TensorType type) {
    return nullptr;
}

}  // namespace cria::kernels
