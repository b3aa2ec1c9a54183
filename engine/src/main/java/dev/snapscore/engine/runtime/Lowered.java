package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.DataType;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.Window;

/**
 * One operation of a plan as {@link Lowering} decided it: its kind, shapes and encodings, with nothing of
 * oneDNN's yet. Activation shapes are (N, C, H, W) or (N, features); {@code in} is the storage the operation
 * reads (the plan reorders into it when the activation is held otherwise), {@code out} the storage it writes.
 */
sealed interface Lowered {
    Storage in();

    Storage out();

    /** An operation that reads and writes f32 whatever the model's precision. */
    sealed interface F32Only extends Lowered {
        @Override
        default Storage in() {
            return Storage.F32;
        }

        @Override
        default Storage out() {
            return Storage.F32;
        }
    }

    /**
     * A convolution run by oneDNN's direct algorithm: f32, bf16 (bf16 weights) or int8 (s8 weights, the
     * encodings giving the scales).
     */
    record DirectConv(Layer.Conv layer, long[] src, long[] dst, long[] weights, Storage in, Storage out,
                      DataType weightType) implements Lowered {
    }

    /**
     * An f32 3×3 convolution as {@link Winograd} F(4, 3). It reads channel planes (nchw) and writes nchw when
     * {@code planesOut} (another such layer follows), else nhwc.
     */
    record WinogradConv(Layer.Conv layer, long[] src, long[] dst, boolean planesOut) implements F32Only {
    }

    /** Max pooling, on whatever the activation holds: max commutes with a positive scale. */
    record MaxPool(Window window, long[] src, long[] dst, Storage in) implements Lowered {
        @Override
        public Storage out() {
            return in;
        }
    }

    /** The average of each whole plane, (N, C, H, W) to (N, C, 1, 1); like max pooling it keeps the encoding. */
    record GlobalAveragePool(long[] src, long[] dst, Storage in) implements Lowered {
        @Override
        public Storage out() {
            return in;
        }
    }

    /**
     * A dense layer as oneDNN's inner product. The first after a flatten ({@code flatten} not null) reads the
     * 4-D feature map, its [out, C·H·W] weights viewed as (out, C, H, W) in that order; {@code logits} marks
     * the last dense layer, whose f32 output is the logits.
     */
    record InnerProduct(Layer.Dense layer, long[] src, long[] weights, FlattenOrder flatten, Storage in, Storage out,
                        DataType weightType, boolean logits) implements Lowered {
    }

    /**
     * A dense layer run in f32 on its s8 weights, each scaled by its output's value of {@code scaleTensor}
     * ({@link NonVnniInt8}): a matmul of the (N, features) activation read plain in {@code flatten} order (null:
     * already a matrix).
     */
    record DecompressedDense(Layer.Dense layer, long[] src, long features, FlattenOrder flatten, String scaleTensor,
                             boolean logits) implements F32Only {
    }

    /** The probabilities of the (N, classes) logits. */
    record Softmax(long[] logits) implements F32Only {
    }
}
