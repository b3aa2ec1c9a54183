package dev.snapscore.engine;

/** How a model runs its f32 3×3 convolutions. Int8 and bf16 layers always run directly. */
public enum ConvolutionAlgorithm {
    /** oneDNN's direct convolution: the reference the others are checked against. */
    DIRECT,
    /**
     * Winograd F(4×4, 3×3) built from oneDNN primitives, for 3×3 stride-1 layers with one pixel of padding where
     * it was measured to pay: at least 256 input channels and 32 tiles of 4×4 outputs per run (VGG16: conv3_2
     * to conv4_3, and conv5 from batch 2). Other layers run directly. Those layers do four times fewer
     * multiplications, at the cost of transforms and of four times their weight memory; results differ from
     * direct ones by about 1e-5 of their size.
     */
    WINOGRAD,
    /**
     * The default: per layer, whichever of the two ran faster on this machine. When a batch size is first planned
     * (or {@link Session#prepare prepared}), each 3×3 stride-1 layer with enough input channels is timed both ways
     * on the session's threads (a few runs of those layers, so that plan takes seconds longer for VGG16) and runs as
     * Winograd only where that was faster; sizes between powers of two take the choices of the power of two below.
     * Sessions with different thread counts get plans of their own.
     * A plan cache keeps the choices, so later loads on the machine do not time again. Results differ from direct
     * ones by about 1e-5 of their size. bf16 and int8 layers always run directly.
     */
    AUTO
}
