package dev.snapscore.engine.spec;

/**
 * The order in which a (C, H, W) feature map is laid out as the first dense layer's input vector.
 * NCHW is PyTorch's {@code flatten}; NHWC is Keras' (channels last), which ONNX exports as a Transpose
 * before the Flatten.
 */
public enum FlattenOrder {
    NCHW, NHWC
}
