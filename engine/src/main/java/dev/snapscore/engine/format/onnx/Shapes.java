package dev.snapscore.engine.format.onnx;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Shape inference for the ops a VGG-family graph uses, from the image input forward. The batch dimension may be
 * {@link Graph#BATCH}. A tensor whose shape cannot be inferred (an op outside this list) is absent from the map.
 */
final class Shapes {
    private Shapes() {
    }

    static Map<String, long[]> infer(Graph graph) {
        Map<String, long[]> shapes = new HashMap<>();
        shapes.put(graph.input, graph.inputDims.clone());
        for (Map.Entry<String, Constant> c : graph.constants.entrySet()) shapes.put(c.getKey(), c.getValue().shape());
        for (Node node : graph.nodes) {
            long[] out = output(node, shapes, graph);
            if (out != null) shapes.put(node.output(0), out);
        }
        return shapes;
    }

    /** The shape of {@code node}'s first output, or null when unknown or the node is malformed. */
    static long[] output(Node node, Map<String, long[]> shapes, Graph graph) {
        long[] x = shapes.get(node.input(0));
        if (x == null) return null;
        try {
            return switch (node.op) {
                case "Relu", "Identity", "Dropout", "BatchNormalization", "Softmax", "Cast" -> x;
                case "Add", "Sub", "Mul", "Div" -> {
                    long[] y = shapes.get(node.input(1));
                    yield y == null ? null : broadcast(x, y);
                }
                case "Conv" -> {
                    long[] w = shapes.get(node.input(1));
                    if (w == null || w.length != 4 || x.length != 4) yield null;
                    long[] out = window(node, x, new long[] {w[2], w[3]});
                    yield out == null ? null : new long[] {x[0], w[0], out[0], out[1]};
                }
                case "MaxPool", "AveragePool" -> {
                    long[] out = x.length == 4 ? window(node, x, node.integers("kernel_shape", null)) : null;
                    yield out == null ? null : new long[] {x[0], x[1], out[0], out[1]};
                }
                case "GlobalAveragePool" -> x.length == 4 ? new long[] {x[0], x[1], 1, 1} : null;
                case "Flatten" -> {
                    int axis = (int) normalisedAxis(node.integer("axis", 1), x.length + 1);
                    yield new long[] {product(x, 0, axis), product(x, axis, x.length)};
                }
                case "Transpose" -> {
                    long[] perm = node.integers("perm", null);
                    if (perm == null) {
                        perm = new long[x.length];
                        for (int i = 0; i < perm.length; i++) perm[i] = x.length - 1 - i;
                    }
                    if (perm.length != x.length) yield null;
                    long[] out = new long[x.length];
                    for (int i = 0; i < out.length; i++) out[i] = x[(int) perm[i]];
                    yield out;
                }
                case "Reshape" -> {
                    Constant target = graph.constant(node.input(1));
                    yield target == null ? null : reshape(x, target.longs(), node.integer("allowzero", 0) != 0);
                }
                case "Gemm" -> {
                    long[] w = shapes.get(node.input(1));
                    if (w == null || w.length != 2 || x.length != 2) yield null;
                    long m = node.integer("transA", 0) != 0 ? x[1] : x[0];
                    yield new long[] {m, node.integer("transB", 0) != 0 ? w[0] : w[1]};
                }
                case "MatMul" -> {
                    long[] w = shapes.get(node.input(1));
                    if (w == null || w.length != 2 || x.length != 2) yield null;
                    yield new long[] {x[0], w[1]};
                }
                case "ReduceMean" -> {
                    long[] axes = reduceAxes(node, graph);
                    if (axes == null) yield null;
                    boolean keep = node.integer("keepdims", 1) != 0;
                    long[] out = keep ? x.clone() : new long[x.length - axes.length];
                    for (int i = 0, j = 0; i < x.length; i++) {
                        boolean reduced = false;
                        for (long a : axes) reduced |= normalisedAxis(a, x.length) == i;
                        if (keep && reduced) out[i] = 1;
                        else if (!keep && !reduced) out[j++] = x[i];
                    }
                    yield out;
                }
                case "Shape" -> new long[] {x.length};
                default -> null;
            };
        } catch (IllegalArgumentException | ArithmeticException | IndexOutOfBoundsException e) {
            return null;
        }
    }

    /** The output height and width of a Conv or pool window over a 4-D input, or null when it does not fit. */
    static long[] window(Node node, long[] x, long[] kernel) {
        if (kernel == null || kernel.length != 2) return null;
        long[] strides = node.integers("strides", new long[] {1, 1});
        long[] dilations = node.integers("dilations", new long[] {1, 1});
        long[] pads = pads(node, x[2], x[3], kernel, strides);
        if (pads == null || strides.length != 2 || dilations.length != 2) return null;
        boolean ceil = node.integer("ceil_mode", 0) != 0;
        long h = pooled(x[2], kernel[0], strides[0], pads[0] + pads[2], dilations[0], ceil);
        long w = pooled(x[3], kernel[1], strides[1], pads[1] + pads[3], dilations[1], ceil);
        return h < 1 || w < 1 ? null : new long[] {h, w};
    }

    /** Explicit pads [top, left, bottom, right], from {@code pads} or worked out from {@code auto_pad}; null when malformed. */
    static long[] pads(Node node, long h, long w, long[] kernel, long[] strides) {
        String auto = node.text("auto_pad", "NOTSET");
        if (auto.equals("NOTSET")) {
            long[] pads = node.integers("pads", new long[] {0, 0, 0, 0});
            return pads.length == 4 ? pads : null;
        }
        if (auto.equals("VALID")) return new long[] {0, 0, 0, 0};
        if (!auto.equals("SAME_UPPER") && !auto.equals("SAME_LOWER")) return null;
        long[] size = {h, w}, pads = new long[4];
        for (int i = 0; i < 2; i++) {
            long out = Math.ceilDiv(size[i], strides[i]);
            long total = Math.max((out - 1) * strides[i] + kernel[i] - size[i], 0);
            long small = total / 2, large = total - small;
            pads[i] = auto.equals("SAME_UPPER") ? small : large;
            pads[i + 2] = total - pads[i];
        }
        return pads;
    }

    static long pooled(long in, long kernel, long stride, long pad, long dilation, boolean ceil) {
        long span = in + pad - dilation * (kernel - 1) - 1;
        return (ceil ? Math.ceilDiv(span, stride) : Math.floorDiv(span, stride)) + 1;
    }

    /** The axes a ReduceMean reduces: its attribute before opset 18, its second input from 18. */
    static long[] reduceAxes(Node node, Graph graph) {
        if (graph.opset < 18) return node.integers("axes", null);
        Constant axes = graph.constant(node.input(1));
        return axes == null ? null : axes.longs();
    }

    static long normalisedAxis(long axis, int rank) {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new IllegalArgumentException("axis " + axis + " is out of range for rank " + rank);
        return a;
    }

    /** Numpy broadcasting; a {@link Graph#BATCH} dimension broadcasts like any size other than 1. */
    static long[] broadcast(long[] a, long[] b) {
        long[] out = new long[Math.max(a.length, b.length)];
        for (int i = 0; i < out.length; i++) {
            long x = i < out.length - a.length ? 1 : a[i - (out.length - a.length)];
            long y = i < out.length - b.length ? 1 : b[i - (out.length - b.length)];
            if (x != y && x != 1 && y != 1) throw new IllegalArgumentException("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b) + " do not broadcast");
            out[i] = x == 1 ? y : x;
        }
        return out;
    }

    /** The product of dims [from, to), or {@link Graph#BATCH} when it includes the batch. */
    static long product(long[] dims, int from, int to) {
        long n = 1;
        boolean batch = false;
        for (int i = from; i < to; i++) {
            if (dims[i] == Graph.BATCH) batch = true;
            else n = Math.multiplyExact(n, dims[i]);
        }
        if (batch && n != 1) throw new IllegalArgumentException("the batch dimension is merged with others");
        return batch ? Graph.BATCH : n;
    }

    /**
     * ONNX Reshape: 0 copies the input's dimension (unless {@code allowZero}), -1 takes what is left. The batch may
     * stay open: a target's {@link Graph#BATCH} or 0 at the batch's position, or its -1, stands for it.
     */
    static long[] reshape(long[] in, long[] target, boolean allowZero) {
        long[] out = target.clone();
        int inferred = -1;
        boolean inBatch = false;
        long total = 1;
        for (long d : in) {
            if (d == Graph.BATCH) inBatch = true;
            else total = Math.multiplyExact(total, d);
        }
        long known = 1;
        boolean outBatch = false;
        for (int i = 0; i < out.length; i++) {
            if (out[i] == 0 && !allowZero) {
                if (i >= in.length) throw new IllegalArgumentException("0 at axis " + i + " copies no dimension");
                out[i] = in[i];
            }
            if (out[i] == -1) {
                if (inferred >= 0) throw new IllegalArgumentException("two -1 in " + Arrays.toString(target));
                inferred = i;
            } else if (out[i] == Graph.BATCH) {
                outBatch = true;
            } else if (out[i] < 0) {
                throw new IllegalArgumentException("dimension " + out[i]);
            } else {
                known = Math.multiplyExact(known, out[i]);
            }
        }
        if (inBatch && !outBatch) {
            if (inferred < 0) throw new IllegalArgumentException("the batch dimension has no place in " + Arrays.toString(target));
            if (known != total) throw new IllegalArgumentException("sizes differ");
            out[inferred] = Graph.BATCH;
            return out;
        }
        if (inBatch != outBatch && outBatch) throw new IllegalArgumentException("a batch dimension appears from nowhere");
        if (inferred >= 0) {
            if (known == 0 || total % known != 0) throw new IllegalArgumentException("sizes differ");
            out[inferred] = total / known;
        } else if (known != total) {
            throw new IllegalArgumentException("reshapes " + total + " values to " + known);
        }
        return out;
    }
}
