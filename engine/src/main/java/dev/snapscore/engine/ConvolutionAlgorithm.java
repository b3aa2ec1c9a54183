package dev.snapscore.engine;

/** How a model runs its f32 3×3 convolutions. Int8 layers always run directly. */
public enum ConvolutionAlgorithm {
    /** oneDNN's direct convolution: the default, and the reference the other is checked against. */
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
     * Per layer and batch size, whichever of the two ran faster when the plan was built: each 3×3 stride-1 layer
     * is timed both ways on the model's threads (a few runs of the whole network each, so building a plan
     * takes that much longer), and runs as Winograd only where that was faster.
     */
    AUTO
}
