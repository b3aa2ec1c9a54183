package dev.snapscore.engine.format.onnx;

import dev.snapscore.engine.spec.InputLayout;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.snapscore.engine.format.onnx.TestGraphs.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class InputLayoutAndNormalisationTest {
    private static void conv(Graph g, String input) {
        g.constants.put("w", floats(dims(4, 3, 1, 1), new float[12]));
        node(g, "Conv", List.of(input, "w"), "c");
    }

    @Test
    void anNhwcInputLosesItsTransposeAndItsPerChannelConstantsBecomeNchw() {
        Graph g = graph(13, Graph.BATCH, 224, 224, 3);
        g.constants.put("m", floats(dims(3), 0.5f, 0.4f, 0.3f));
        node(g, "Sub", List.of("x", "m"), "s");
        node(g, "Transpose", List.of("s"), "t", ints("perm", 0, 3, 1, 2));
        conv(g, "t");
        InputLayoutPass.apply(g);
        assertEquals(InputLayout.NHWC, g.inputLayout);
        assertArrayEquals(new long[] {Graph.BATCH, 3, 224, 224}, g.inputDims);
        assertEquals(List.of("Sub", "Conv"), ops(g));
        assertArrayEquals(new long[] {1, 3, 1, 1}, g.constant(g.nodes.getFirst().input(1)).shape());
        // The normalisation pass then reads it as per-channel.
        InputNormalisation.apply(g);
        assertEquals(List.of("Conv"), ops(g));
        assertEquals("x", g.nodes.getFirst().input(0));
        assertEquals("RGB", g.preprocess.channelOrder());
        assertFloats(new float[] {127.5f, 102, 76.5f}, g.preprocess.mean(), 1e-3);
    }

    @Test
    void torchvisionsImageNetNormalisationIsRgbInZeroToOne() {
        Graph g = graph(13, 1, 3, 8, 8);
        g.constants.put("mean", floats(dims(1, 3, 1, 1), 0.485f, 0.456f, 0.406f));
        g.constants.put("std", floats(dims(3, 1, 1), 0.229f, 0.224f, 0.225f));
        node(g, "Sub", List.of("x", "mean"), "s");
        node(g, "Div", List.of("s", "std"), "d");
        conv(g, "d");
        InputNormalisation.apply(g);
        assertEquals(List.of("Conv"), ops(g));
        assertEquals("RGB", g.preprocess.channelOrder());
        assertFloats(new float[] {123.675f, 116.28f, 103.53f}, g.preprocess.mean(), 1e-3);
        assertFloats(new float[] {1 / (255 * 0.229f), 1 / (255 * 0.224f), 1 / (255 * 0.225f)}, g.preprocess.scale(), 1e-7);
    }

    @Test
    void caffeMeansAreBgrInZeroTo255AndKerasTfModeIsRgb() {
        Graph caffe = graph(11, 1, 3, 8, 8);
        caffe.constants.put("mean", floats(dims(3, 1, 1), 103.939f, 116.779f, 123.68f));
        node(caffe, "Sub", List.of("x", "mean"), "s");
        conv(caffe, "s");
        InputNormalisation.apply(caffe);
        assertEquals("BGR", caffe.preprocess.channelOrder());
        assertFloats(new float[] {103.939f, 116.779f, 123.68f}, caffe.preprocess.mean(), 1e-4);
        assertFloats(new float[] {1, 1, 1}, caffe.preprocess.scale(), 0);

        // x / 127.5 - 1: mean 127.5, scale 1/127.5.
        Graph keras = graph(13, 1, 3, 8, 8);
        keras.constants.put("k", floats(dims(), 127.5f));
        keras.constants.put("one", floats(dims(), 1f));
        node(keras, "Div", List.of("x", "k"), "d");
        node(keras, "Sub", List.of("d", "one"), "s");
        conv(keras, "s");
        InputNormalisation.apply(keras);
        assertEquals("RGB", keras.preprocess.channelOrder());
        assertFloats(new float[] {127.5f, 127.5f, 127.5f}, keras.preprocess.mean(), 1e-4);
        assertFloats(new float[] {1 / 127.5f, 1 / 127.5f, 1 / 127.5f}, keras.preprocess.scale(), 1e-9);

        // A baked x * (1/255) is 0..255 input (every scale below 0.1), Mul with the constant first.
        Graph bytes = graph(13, 1, 3, 8, 8);
        bytes.constants.put("k", floats(dims(), 1 / 255f));
        node(bytes, "Mul", List.of("k", "x"), "m");
        conv(bytes, "m");
        InputNormalisation.apply(bytes);
        assertFloats(new float[] {0, 0, 0}, bytes.preprocess.mean(), 0);
        assertFloats(new float[] {1 / 255f, 1 / 255f, 1 / 255f}, bytes.preprocess.scale(), 0);
    }

    @Test
    void arithmeticNotRightBeforeTheFirstConvStays() {
        Graph g = graph(13, 1, 3, 8, 8);
        g.constants.put("mean", floats(dims(3, 1, 1), 1, 2, 3));
        node(g, "Sub", List.of("x", "mean"), "s");
        node(g, "Relu", List.of("s"), "r");
        conv(g, "r");
        InputNormalisation.apply(g);
        assertEquals(List.of("Sub", "Relu", "Conv"), ops(g));
        assertNull(g.preprocess);
        // A per-width constant ([3] broadcasts along W) is not a normalisation either.
        Graph w = graph(13, 1, 3, 8, 3);
        w.constants.put("v", floats(dims(3), 1, 2, 3));
        node(w, "Sub", List.of("x", "v"), "s");
        conv(w, "s");
        InputNormalisation.apply(w);
        assertNull(w.preprocess);
    }
}
