// EmbeddingGemma: Gemma 3's block run as an encoder. Attention sees both directions, within a
// symmetric window (window / 2 positions either side) on five of every six layers; the final
// RMS-normed states are mean-pooled and then projected by the optional dense_2 and dense_3
// matrices. There is no language-model head.
#include "model/arch_list.h"

namespace cria::model {

const ArchSpec& gemma_embedding_arch() {
    static const ArchSpec spec = [] {
        ArchSpec s = gemma3_arch();
        s.name = "gemma-embedding";
        s.causal = false;
        s.default_pooling = Pooling::kMean;
        s.output_always_tied = false;
        s.lm_head = false;
        s.dense_projections = true;
        return s;
    }();
    return spec;
}

}  // namespace cria::model
