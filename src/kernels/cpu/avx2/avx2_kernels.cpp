// AVX2 + FMA + F16C kernels.
#include "kernels/kernel_table.h"

namespace cria::kernels {

GemmFn gemm_avx2(gguf::TensorType type) {
    return nullptr;
}
ConvertActFn convert_act_avx2(ActFormat format) {
    return nullptr;
}

}  // namespace cria::kernels
