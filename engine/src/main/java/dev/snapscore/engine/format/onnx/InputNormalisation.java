package dev.snapscore.engine.format.onnx;

import dev.snapscore.engine.spec.Preprocess;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Normalisation baked into a model: Sub, Div, Mul and Add of the image input by scalar or per-channel constants,
 * right before the first Conv. They are removed from the graph and become the spec's {@link Preprocess}, so the
 * engine's input is what enters the first Conv and {@code score} normalises once. The ops compose to
 * y = (x − m)·s per channel; the file does not say which photos x it expects, so:
 * <ul>
 *   <li>range: x is 0..255 when a mean exceeds 1 or every scale is below 0.1 (a baked /255, Caffe's means,
 *       Keras' x/127.5 − 1), else 0..1 (torchvision's ImageNet means 0.485, 0.456, 0.406 and stds); a 0..1 model
 *       gets mean 255·m and scale s/255, as photos arrive in 0..255;</li>
 *   <li>channel order: BGR when the first channel's mean is below the third's (Caffe's 103.939, 116.779, 123.68),
 *       else RGB (ImageNet's means in RGB order, and equal means).</li>
 * </ul>
 */
final class InputNormalisation {
    private InputNormalisation() {
    }

    static void apply(Graph graph) {
        int channels = (int) graph.inputDims[1];
        List<Node> ops = new ArrayList<>();
        double[] a = new double[channels], b = new double[channels];
        Arrays.fill(a, 1);
        String t = graph.input;
        Node next = graph.soleConsumer(t);
        while (next != null && InputLayoutPass.ELEMENTWISE.contains(next.op)) {
            String name = InputLayoutPass.constantOperand(graph, next);
            if (name == null || (next.op.equals("Sub") || next.op.equals("Div")) && !next.input(1).equals(name)) break;
            float[] c = perChannel(graph.constant(name), channels);
            if (c == null) break;
            for (int i = 0; i < channels; i++) {
                switch (next.op) {
                    case "Sub" -> b[i] -= c[i];
                    case "Add" -> b[i] += c[i];
                    case "Mul" -> { a[i] *= c[i]; b[i] *= c[i]; }
                    default -> { a[i] /= c[i]; b[i] /= c[i]; }
                }
            }
            ops.add(next);
            t = next.output(0);
            next = graph.soleConsumer(t);
        }
        if (ops.isEmpty() || next == null || !next.op.equals("Conv")) return;
        if (channels != 3) {
            graph.problem(ops.getFirst(), "normalises a " + channels + "-channel input; snapscore's preprocessing is for 3-channel photos");
            return;
        }
        float[] mean = new float[3], scale = new float[3];
        for (int i = 0; i < 3; i++) {
            if (!(a[i] > 0) || Double.isInfinite(a[i])) {
                graph.problem(ops.getFirst(), "normalises channel " + i + " with a factor " + a[i] + "; snapscore's preprocessing scales by positive numbers");
                return;
            }
            scale[i] = (float) a[i];
            mean[i] = (float) (-b[i] / a[i]);
        }
        boolean bytes = false, allSmall = true;
        for (int i = 0; i < 3; i++) {
            bytes |= Math.abs(mean[i]) > 1;
            allSmall &= scale[i] < 0.1f;
        }
        bytes |= allSmall;
        String order = mean[0] < mean[2] ? "BGR" : "RGB";
        float[] pMean = mean.clone(), pScale = scale.clone();
        if (!bytes) {
            for (int i = 0; i < 3; i++) {
                pMean[i] = 255 * mean[i];
                pScale[i] = scale[i] / 255;
            }
        }
        graph.preprocess = new Preprocess(order, pMean, pScale);
        graph.preprocessing = "baked into the model as (x - " + Arrays.toString(mean) + ") * " + Arrays.toString(scale)
                + " per channel; read as " + order + " photos in " + (bytes ? "0..255" : "0..1, so mean x255 and scale /255")
                + " (" + (bytes ? "a mean above 1 or every scale below 0.1" : "means within 0..1 and a scale of 0.1 or more") + "; "
                + (order.equals("BGR") ? "first mean below the third" : "first mean not below the third") + ")";
        for (Node op : ops) {
            graph.bypass(inputToFirst(op, graph));
            graph.rewrite(op, "removed: input normalisation, now the spec's preprocessing");
        }
    }

    /** Puts the node's variable operand first, so bypassing it connects its reader to that operand. */
    private static Node inputToFirst(Node op, Graph graph) {
        if (graph.isConstant(op.input(0))) {
            String c = op.input(0);
            op.inputs.set(0, op.input(1));
            op.inputs.set(1, c);
        }
        return op;
    }

    /** The values of a constant that broadcasts over [N, C, H, W] varying along C only, one per channel; null otherwise. */
    static float[] perChannel(Constant c, int channels) {
        float[] v = c.floats();
        if (v.length == 1) {
            float[] all = new float[channels];
            Arrays.fill(all, v[0]);
            return all;
        }
        long[] s = c.shape();
        if (v.length != channels || s.length > 4) return null;
        long[] aligned = new long[4];
        Arrays.fill(aligned, 1);
        System.arraycopy(s, 0, aligned, 4 - s.length, s.length);
        return aligned[1] == channels ? v : null;
    }
}
