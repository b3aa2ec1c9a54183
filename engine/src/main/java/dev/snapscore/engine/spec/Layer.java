package dev.snapscore.engine.spec;

import java.util.Objects;

/** One step of a VGG-family network, in order. Weights live apart, named after the layer. */
public sealed interface Layer {

    /** 2-D convolution; weights {@code <name>.weight} (out, in, kh, kw) OIHW, bias {@code <name>.bias} (out). */
    record Conv(String name, int out, Window window, Activation activation) implements Layer {
        public Conv {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(window, "window");
            Objects.requireNonNull(activation, "activation");
            if (out < 1) throw new IllegalArgumentException("conv " + name + ": out must be >= 1, got " + out);
            if (activation == Activation.SOFTMAX) {
                throw new IllegalArgumentException("conv " + name + ": softmax activation is only allowed on the last dense layer");
            }
        }

        public String weightName() {
            return name + ".weight";
        }

        public String biasName() {
            return name + ".bias";
        }
    }

    /** Max pooling, no dilation. */
    record MaxPool(Window window) implements Layer {
        public MaxPool {
            Objects.requireNonNull(window, "window");
        }
    }

    /**
     * Average over each channel's whole plane: (C, H, W) to (C, 1, 1). Keras' GlobalAveragePooling2D, ONNX's
     * GlobalAveragePool (or ReduceMean over H and W); a flatten follows it.
     */
    record GlobalAveragePool() implements Layer {
    }

    /** (C, H, W) to a vector, in the given order. */
    record Flatten(FlattenOrder order) implements Layer {
        public Flatten {
            Objects.requireNonNull(order, "order");
        }
    }

    /** Fully connected: y = x·Wᵀ + b; weights {@code <name>.weight} (out, in), bias {@code <name>.bias} (out). */
    record Dense(String name, int out, Activation activation) implements Layer {
        public Dense {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(activation, "activation");
            if (out < 1) throw new IllegalArgumentException("dense " + name + ": out must be >= 1, got " + out);
        }

        public String weightName() {
            return name + ".weight";
        }

        public String biasName() {
            return name + ".bias";
        }
    }

    /** Identity at inference; kept so a spec round-trips and says how it was trained. */
    record Dropout(float rate) implements Layer {
    }
}
