package dev.snapscore.engine.format.onnx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Computes at import whatever depends only on constants and on known shapes: the shape arithmetic of PyTorch's
 * {@code x.view(x.size(0), -1)} (Shape → Gather → Unsqueeze → Concat → Reshape, with Cast at old opsets), Identity
 * of deduplicated initializers, arithmetic on constants. Nodes are visited in file order, which is topological, so
 * one sweep folds chains. An open batch size travels as {@link Graph#BATCH} and may be moved around but not computed with.
 */
final class ConstantFolding {
    static final Set<String> FOLDABLE = Set.of("Identity", "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast",
            "Reshape", "Mul", "Div", "Add", "Sub");

    private ConstantFolding() {
    }

    static void apply(Graph graph) {
        Map<String, long[]> shapes = graph.shapes();
        for (Node node : new ArrayList<>(graph.nodes)) {
            boolean constantInputs = !node.inputs.isEmpty() && node.inputs.stream().allMatch(t -> t.isEmpty() || graph.isConstant(t));
            boolean knownShape = node.op.equals("Shape") && shapes.containsKey(node.input(0));
            if (constantInputs || knownShape) {
                if (!FOLDABLE.contains(node.op)) {
                    graph.problem(node, "reads only constants, and snapscore does not compute op " + node.op + " at import");
                    continue;
                }
                try {
                    Constant value = fold(node, graph, shapes);
                    graph.nodes.remove(node);
                    graph.constants.put(node.output(0), value);
                    shapes.put(node.output(0), value.shape());
                    graph.rewrite(node, "folded into a constant " + value);
                } catch (IllegalArgumentException | ArithmeticException | IndexOutOfBoundsException e) {
                    graph.problem(node, "cannot be computed at import: " + e.getMessage());
                }
                continue;
            }
            long[] out = Shapes.output(node, shapes, graph);
            if (out != null) shapes.put(node.output(0), out);
        }
    }

    static Constant fold(Node node, Graph graph, Map<String, long[]> shapes) {
        Constant x = graph.constant(node.input(0));
        return switch (node.op) {
            case "Identity" -> x;
            case "Shape" -> shape(node, shapes.get(node.input(0)), graph.opset);
            case "Gather" -> gather(x, graph.constant(node.input(1)), node.integer("axis", 0));
            case "Unsqueeze" -> unsqueeze(x, axes(node, graph));
            case "Squeeze" -> squeeze(x, axes(node, graph));
            case "Concat" -> {
                List<Constant> parts = new ArrayList<>();
                for (String t : node.inputs) if (!t.isEmpty()) parts.add(graph.constant(t));
                if (!node.has("axis")) throw new IllegalArgumentException("it has no axis");
                yield concat(parts, node.integer("axis", 0));
            }
            case "Cast" -> cast(x, node.integer("to", 0));
            case "Reshape" -> {
                long[] shape = Shapes.reshape(x.shape(), graph.constant(node.input(1)).longs(), node.integer("allowzero", 0) != 0);
                for (long d : shape) if (d == Graph.BATCH) throw new IllegalArgumentException("the shape depends on the batch size");
                yield x.reshaped(shape);
            }
            default -> arithmetic(node.op, x, graph.constant(node.input(1)));
        };
    }

    private static Constant shape(Node node, long[] dims, long opset) {
        int rank = dims.length;
        long start = opset >= 15 ? node.integer("start", 0) : 0, end = opset >= 15 ? node.integer("end", rank) : rank;
        start = Math.clamp(start < 0 ? start + rank : start, 0, rank);
        end = Math.clamp(end < 0 ? end + rank : end, 0, rank);
        long[] v = end > start ? Arrays.copyOfRange(dims, (int) start, (int) end) : new long[0];
        return Constant.ofInts(new long[] {v.length}, v);
    }

    /** Unsqueeze and Squeeze take their axes as an attribute before opset 13, as an input from 13. */
    private static long[] axes(Node node, Graph graph) {
        if (graph.opset < 13) return node.integers("axes", null);
        return node.input(1).isEmpty() ? null : graph.constant(node.input(1)).longs();
    }

    static Constant gather(Constant data, Constant indices, long axisAttribute) {
        long[] d = data.shape(), ix = indices.longs();
        int axis = (int) Shapes.normalisedAxis(axisAttribute, d.length);
        long outer = Shapes.product(d, 0, axis), inner = Shapes.product(d, axis + 1, d.length);
        long[] shape = concatDims(Arrays.copyOfRange(d, 0, axis), indices.shape(), Arrays.copyOfRange(d, axis + 1, d.length));
        int[] source = new int[Math.toIntExact(outer * ix.length * inner)];
        int k = 0;
        for (long o = 0; o < outer; o++) {
            for (long i : ix) {
                long at = i < 0 ? i + d[axis] : i;
                if (at < 0 || at >= d[axis]) throw new IllegalArgumentException("index " + i + " is out of range for dimension " + d[axis]);
                for (long j = 0; j < inner; j++) source[k++] = Math.toIntExact((o * d[axis] + at) * inner + j);
            }
        }
        return pick(data, shape, source);
    }

    static Constant unsqueeze(Constant x, long[] axes) {
        if (axes == null) throw new IllegalArgumentException("it has no axes");
        int rank = x.rank() + axes.length;
        boolean[] inserted = new boolean[rank];
        for (long a : axes) inserted[(int) Shapes.normalisedAxis(a, rank)] = true;
        long[] shape = new long[rank];
        long[] in = x.shape();
        for (int i = 0, j = 0; i < rank; i++) shape[i] = inserted[i] ? 1 : in[j++];
        return x.reshaped(shape);
    }

    static Constant squeeze(Constant x, long[] axes) {
        long[] in = x.shape();
        boolean[] removed = new boolean[in.length];
        if (axes == null) {
            for (int i = 0; i < in.length; i++) removed[i] = in[i] == 1;
        } else {
            for (long a : axes) {
                int i = (int) Shapes.normalisedAxis(a, in.length);
                if (in[i] != 1) throw new IllegalArgumentException("axis " + a + " has size " + in[i] + ", not 1");
                removed[i] = true;
            }
        }
        long[] shape = new long[in.length];
        int n = 0;
        for (int i = 0; i < in.length; i++) if (!removed[i]) shape[n++] = in[i];
        return x.reshaped(Arrays.copyOf(shape, n));
    }

    static Constant concat(List<Constant> parts, long axisAttribute) {
        long[] first = parts.getFirst().shape();
        int axis = (int) Shapes.normalisedAxis(axisAttribute, first.length);
        boolean floats = parts.stream().anyMatch(Constant::isFloat);
        long outer = Shapes.product(first, 0, axis), inner = Shapes.product(first, axis + 1, first.length);
        long[] shape = first.clone();
        shape[axis] = 0;
        for (Constant p : parts) {
            long[] s = p.shape();
            for (int i = 0; i < s.length; i++) {
                if (s.length != first.length || i != axis && s[i] != first[i]) {
                    throw new IllegalArgumentException("shapes " + Arrays.toString(first) + " and " + Arrays.toString(s) + " do not concatenate");
                }
            }
            shape[axis] += s[axis];
        }
        int n = Math.toIntExact(Shapes.product(shape, 0, shape.length));
        float[] f = floats ? new float[n] : null;
        long[] l = floats ? null : new long[n];
        int k = 0;
        for (long o = 0; o < outer; o++) {
            for (Constant p : parts) {
                int chunk = Math.toIntExact(p.shape()[axis] * inner);
                int from = Math.toIntExact(o * chunk);
                if (floats) System.arraycopy(p.floats(), from, f, k, chunk);
                else System.arraycopy(p.longs(), from, l, k, chunk);
                k += chunk;
            }
        }
        return floats ? Constant.ofFloats(shape, f) : Constant.ofInts(shape, l);
    }

    /** Cast to a float type gives floats, to an integer type longs (truncated); bool is 0/1. */
    static Constant cast(Constant x, long to) {
        return switch ((int) to) {
            case 1, 10, 11, 16 -> {
                if (!x.isFloat()) for (long v : x.longs()) if (v == Graph.BATCH) throw new IllegalArgumentException("it converts the open batch size to a float");
                yield Constant.ofFloats(x.shape(), x.floats());
            }
            case 9 -> {
                float[] v = x.floats();
                long[] b = new long[v.length];
                for (int i = 0; i < v.length; i++) b[i] = v[i] != 0 ? 1 : 0;
                yield Constant.ofInts(x.shape(), b);
            }
            case 2, 3, 4, 5, 6, 7, 12, 13 -> Constant.ofInts(x.shape(), x.longs());
            default -> throw new IllegalArgumentException("it casts to data type " + to);
        };
    }

    static Constant arithmetic(String op, Constant a, Constant b) {
        long[] shape = Shapes.broadcast(a.shape(), b.shape());
        int n = Math.toIntExact(Shapes.product(shape, 0, shape.length));
        int[] ia = broadcastSource(a.shape(), shape), ib = broadcastSource(b.shape(), shape);
        if (a.isFloat() || b.isFloat()) {
            float[] x = a.floats(), y = b.floats(), z = new float[n];
            for (int i = 0; i < n; i++) {
                float p = x[ia[i]], q = y[ib[i]];
                z[i] = switch (op) {
                    case "Mul" -> p * q;
                    case "Div" -> p / q;
                    case "Add" -> p + q;
                    default -> p - q;
                };
            }
            return Constant.ofFloats(shape, z);
        }
        long[] x = a.longs(), y = b.longs(), z = new long[n];
        for (int i = 0; i < n; i++) {
            long p = x[ia[i]], q = y[ib[i]];
            if (p == Graph.BATCH || q == Graph.BATCH) throw new IllegalArgumentException("it computes with the open batch size");
            z[i] = switch (op) {
                case "Mul" -> Math.multiplyExact(p, q);
                case "Div" -> p / q;
                case "Add" -> Math.addExact(p, q);
                default -> Math.subtractExact(p, q);
            };
        }
        return Constant.ofInts(shape, z);
    }

    /** For each element of a tensor of {@code outShape}, the index of the element of a {@code shape} tensor broadcast to it. */
    static int[] broadcastSource(long[] shape, long[] outShape) {
        int n = Math.toIntExact(Shapes.product(outShape, 0, outShape.length));
        int[] source = new int[n];
        int offset = outShape.length - shape.length;
        for (int i = 0; i < n; i++) {
            long rest = i, index = 0, stride = 1;
            for (int d = outShape.length - 1; d >= 0; d--) {
                long coordinate = rest % outShape[d];
                rest /= outShape[d];
                if (d >= offset) {
                    long size = shape[d - offset];
                    index += (size == 1 ? 0 : coordinate) * stride;
                    stride *= size;
                }
            }
            source[i] = (int) index;
        }
        return source;
    }

    private static Constant pick(Constant c, long[] shape, int[] source) {
        if (c.isFloat()) {
            float[] v = c.floats(), out = new float[source.length];
            for (int i = 0; i < source.length; i++) out[i] = v[source[i]];
            return Constant.ofFloats(shape, out);
        }
        long[] v = c.longs(), out = new long[source.length];
        for (int i = 0; i < source.length; i++) out[i] = v[source[i]];
        return Constant.ofInts(shape, out);
    }

    private static long[] concatDims(long[]... parts) {
        return Arrays.stream(parts).flatMapToLong(Arrays::stream).toArray();
    }
}
