package dev.snapscore.engine.spec;

/**
 * How the network's input tensor is laid out per batch: NCHW ([N, C, H, W], PyTorch) or NHWC ([N, H, W, C],
 * Keras / tf2onnx). Preprocessing writes photos in this layout; callers of {@code Session.run} pass it.
 */
public enum InputLayout {
    NCHW, NHWC
}
