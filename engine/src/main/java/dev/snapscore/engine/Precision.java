package dev.snapscore.engine;

/** The arithmetic a model's f32 convolutions and dense layers run in. Int8 layers of a quantised model stay int8. */
public enum Precision {
    /** f32 weights and activations: the reference. */
    F32,
    /**
     * bf16 weights and activations with f32 accumulation; the logits stay f32. Needs a CPU with AVX512_BF16 or
     * AMX, where it halves the weights' memory and runs the matrix products on bf16 instructions.
     */
    BF16,
    /** bf16 where the CPU has bf16 instructions, f32 elsewhere. */
    AUTO
}
