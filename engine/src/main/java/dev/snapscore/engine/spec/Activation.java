package dev.snapscore.engine.spec;

/** What follows a conv or dense layer. SOFTMAX is only valid on the last dense layer. */
public enum Activation {
    NONE, RELU, SOFTMAX
}
