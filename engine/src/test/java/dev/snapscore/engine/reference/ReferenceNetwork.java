package dev.snapscore.engine.reference;

import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.ElementType;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Quantization;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import dev.snapscore.engine.spec.Window;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

/**
 * A plain-Java implementation of the network: obviously correct loops, double accumulation, no native
 * code. The oracle the oneDNN path is checked against on random shapes.
 */
public final class ReferenceNetwork {
    private ReferenceNetwork() {
    }

    /** (n, out, oh, ow) = conv(x (n, c, h, w), weights (out, c, kh, kw)) + bias, zero padding. */
    public static float[] conv2d(float[] x, int n, int c, int h, int w, float[] weights, float[] bias, int out, Window win) {
        int oh = win.outHeight(h), ow = win.outWidth(w);
        float[] y = new float[n * out * oh * ow];
        for (int b = 0; b < n; b++)
            for (int o = 0; o < out; o++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++) {
                        double sum = bias[o];
                        for (int ci = 0; ci < c; ci++)
                            for (int ki = 0; ki < win.kernelH(); ki++) {
                                int row = i * win.strideH() - win.padTop() + ki;
                                if (row < 0 || row >= h) continue;
                                for (int kj = 0; kj < win.kernelW(); kj++) {
                                    int col = j * win.strideW() - win.padLeft() + kj;
                                    if (col < 0 || col >= w) continue;
                                    sum += (double) x[((b * c + ci) * h + row) * w + col]
                                            * weights[((o * c + ci) * win.kernelH() + ki) * win.kernelW() + kj];
                                }
                            }
                        y[((b * out + o) * oh + i) * ow + j] = (float) sum;
                    }
        return y;
    }

    /** Max over each window; padding never wins. */
    public static float[] maxPool(float[] x, int n, int c, int h, int w, Window win) {
        int oh = win.outHeight(h), ow = win.outWidth(w);
        float[] y = new float[n * c * oh * ow];
        for (int plane = 0; plane < n * c; plane++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    float max = Float.NEGATIVE_INFINITY;
                    for (int ki = 0; ki < win.kernelH(); ki++)
                        for (int kj = 0; kj < win.kernelW(); kj++) {
                            int row = i * win.strideH() - win.padTop() + ki, col = j * win.strideW() - win.padLeft() + kj;
                            if (row >= 0 && row < h && col >= 0 && col < w) max = Math.max(max, x[(plane * h + row) * w + col]);
                        }
                    y[(plane * oh + i) * ow + j] = max;
                }
        return y;
    }

    /** (n, c·h·w) in NCHW order, or with index (h·W + w)·C + c for NHWC. */
    public static float[] flatten(float[] x, int n, int c, int h, int w, FlattenOrder order) {
        if (order == FlattenOrder.NCHW) return x.clone();
        float[] y = new float[x.length];
        for (int b = 0; b < n; b++)
            for (int ci = 0; ci < c; ci++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++)
                        y[b * c * h * w + (i * w + j) * c + ci] = x[((b * c + ci) * h + i) * w + j];
        return y;
    }

    /** y = x·Wᵀ + b for x (n, in), W (out, in). */
    public static float[] dense(float[] x, int n, int in, float[] weights, float[] bias, int out) {
        float[] y = new float[n * out];
        for (int b = 0; b < n; b++)
            for (int o = 0; o < out; o++) {
                double sum = bias[o];
                for (int i = 0; i < in; i++) sum += (double) x[b * in + i] * weights[o * in + i];
                y[b * out + o] = (float) sum;
            }
        return y;
    }

    public static void relu(float[] x) {
        for (int i = 0; i < x.length; i++) x[i] = Math.max(0, x[i]);
    }

    /** Row-wise, shifted by the row's max so large logits do not overflow. */
    public static float[] softmax(float[] logits, int n, int classes) {
        float[] p = new float[logits.length];
        for (int b = 0; b < n; b++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int k = 0; k < classes; k++) max = Math.max(max, logits[b * classes + k]);
            for (int k = 0; k < classes; k++) sum += Math.exp(logits[b * classes + k] - max);
            for (int k = 0; k < classes; k++) p[b * classes + k] = (float) (Math.exp(logits[b * classes + k] - max) / sum);
        }
        return p;
    }

    /**
     * The logits of {@code n} images (n, C, H, W) through every layer of {@code spec}. For an int8 spec this
     * simulates the quantised network in f32 arithmetic: s8 weights times their per-channel scales, and
     * every quantised activation rounded (half to even) and clamped to its type's levels. A global average
     * pool of a quantised activation keeps its encoding, so its means are rounded to those levels again.
     */
    public static float[] logits(ModelSpec spec, Weights weights, float[] input, int n) {
        Quantization q = spec.quantization();
        int c = spec.input().channels(), h = spec.input().height(), w = spec.input().width(), features = -1;
        float[] x = spec.input().layout() == InputLayout.NHWC ? toPlanar(input, n, c, h, w) : input;
        if (q != null) x = fakeQuantise(x == input ? input.clone() : x, q.input());
        Quantization.Encoding encoding = q == null ? null : q.input(); // the current activation's
        for (Layer layer : spec.layers()) {
            switch (layer) {
                case Layer.Conv conv -> {
                    x = conv2d(x, n, c, h, w, weights(spec, weights, conv.name(), conv.weightName()),
                            floats(weights, conv.biasName()), conv.out(), conv.window());
                    h = conv.window().outHeight(h);
                    w = conv.window().outWidth(w);
                    c = conv.out();
                    if (conv.activation() == Activation.RELU) relu(x);
                    encoding = spec.isQuantised(conv.name()) ? q.layers().get(conv.name()) : null;
                    if (encoding != null) fakeQuantise(x, encoding);
                }
                case Layer.MaxPool pool -> {
                    x = maxPool(x, n, c, h, w, pool.window());
                    h = pool.window().outHeight(h);
                    w = pool.window().outWidth(w);
                }
                case Layer.GlobalAveragePool g -> {
                    x = globalAveragePool(x, n, c, h, w);
                    if (encoding != null) fakeQuantise(x, encoding);
                    h = 1;
                    w = 1;
                }
                case Layer.Flatten f -> {
                    x = flatten(x, n, c, h, w, f.order());
                    features = c * h * w;
                }
                case Layer.Dense d -> {
                    x = dense(x, n, features, weights(spec, weights, d.name(), d.weightName()),
                            floats(weights, d.biasName()), d.out());
                    features = d.out();
                    if (d.activation() == Activation.RELU) relu(x);
                    encoding = spec.isQuantised(d.name()) ? q.layers().get(d.name()) : null;
                    if (encoding != null) fakeQuantise(x, encoding);
                }
                case Layer.Dropout d -> { }
            }
        }
        return x;
    }

    /** (n, h, w, c) interleaved to (n, c, h, w) planes. */
    private static float[] toPlanar(float[] x, int n, int c, int h, int w) {
        float[] y = new float[x.length];
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < c; ch++) {
                for (int i = 0; i < h * w; i++) y[(b * c + ch) * h * w + i] = x[(b * h * w + i) * c + ch];
            }
        }
        return y;
    }

    private static float[] globalAveragePool(float[] x, int n, int c, int h, int w) {
        float[] y = new float[n * c];
        for (int p = 0; p < n * c; p++) {
            double sum = 0;
            for (int i = 0; i < h * w; i++) sum += x[p * h * w + i];
            y[p] = (float) (sum / (h * w));
        }
        return y;
    }

    /** A layer's weights as f32: as stored, or s8 levels times their output channel's scale. */
    private static float[] weights(ModelSpec spec, Weights weights, String layer, String name) {
        if (!spec.isQuantised(layer)) return floats(weights, name);
        Tensor t = weights.tensors().get(name);
        byte[] levels = t.data().toArray(JAVA_BYTE);
        float[] scales = floats(weights, Quantization.weightScaleName(layer));
        int perChannel = levels.length / scales.length;
        float[] w = new float[levels.length];
        for (int i = 0; i < w.length; i++) w[i] = levels[i] * scales[i / perChannel];
        return w;
    }

    /** Rounds every value to the nearest level of {@code e} (ties to even), clamped to its range, in place. */
    static float[] fakeQuantise(float[] x, Quantization.Encoding e) {
        if (!e.type().isInteger()) return x;
        int lo = e.type() == ElementType.U8 ? 0 : -128, hi = e.type() == ElementType.U8 ? 255 : 127;
        for (int i = 0; i < x.length; i++) {
            double level = Math.rint(x[i] / e.scale());
            x[i] = (float) (Math.max(lo, Math.min(hi, level)) * e.scale());
        }
        return x;
    }

    private static float[] floats(Weights weights, String name) {
        return weights.tensors().get(name).data().toArray(JAVA_FLOAT_UNALIGNED);
    }
}
