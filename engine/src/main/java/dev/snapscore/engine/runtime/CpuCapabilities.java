package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;

/**
 * What the CPU's instruction set offers the plan, as oneDNN sees it (after any ONEDNN_MAX_CPU_ISA limit).
 *
 * @param int8Vnni int8 products summed straight into s32 (AVX512_VNNI or AVX_VNNI); see {@link NonVnniInt8}
 * @param bf16     bf16 dot products (AVX512_BF16 or AMX-BF16)
 */
record CpuCapabilities(boolean int8Vnni, boolean bf16) {
    static CpuCapabilities detect() {
        return new CpuCapabilities(Dnnl.hasInt8Vnni(), Dnnl.hasBf16());
    }
}
