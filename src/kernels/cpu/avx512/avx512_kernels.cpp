// AVX-512 (F, BW, VL, DQ) + VNNI kernels.
#include "kernels/kernel_table.h"

namespace cria::kernels {

GemmFn gemm_avx512(gguf::TensorType type) {
    return nullptr;
}
ConvertActFn convert_act_avx512(ActFormat format) {
    return nullptr;
}

}  // namespace cria::kernels
