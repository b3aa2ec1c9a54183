package dev.snapscore.engine;

/** How a model runs its f32 3×3 convolutions. Int8 layers always run directly. */
public enum ConvolutionAlgorithm {
    /** oneDNN's direct convolution: the default, and the reference the other is checked against. */
    DIRECT,
    /**
     * Winograd F(4×4, 3×3) built from oneDNN primitives, for 3×3 stride-1 layers with one pixel of padding, sides
     * divisible by 4 and at least 256 input channels (VGG16's conv3_2 to conv4_3); other layers run directly.
     * Four times fewer multiplications in those layers, at the cost of transforms, four times their weight
     * memory, and results that differ from direct ones by about 1e-5 of their size.
     */
    WINOGRAD
}
