package dev.snapscore.engine;

import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Window;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * One layer kind per test, through the whole oneDNN path, on inputs small enough that the expected
 * numbers are worked out by hand. Each network ends in an identity dense layer so its logits are the
 * tested layer's output, flattened.
 */
class HandComputedLayerTest {
    private static final float[] ONE_TO_SIXTEEN = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

    private static Result runOne(ModelSpec spec, Map<String, float[]> weights, float[] input) {
        try (Model model = Model.of(InMemoryModels.build(spec, weights));
             Session session = model.newSession()) {
            return session.run(java.nio.FloatBuffer.wrap(input), 1);
        }
    }

    @Test
    void convolution3x3WithPaddingBiasAndRelu() {
        // 4x4 input 1..16, 3x3 kernel of ones, pad 1: each output is the sum of its 3x3 neighbourhood
        // (zeros outside). E.g. top-left 1+2+5+6 = 14, centre-left (row 1, col 1) 1+2+3+5+6+7+9+10+11 = 54.
        // Bias -20 then ReLU zeroes the outputs below 20.
        float[] sums = {14, 24, 30, 22, 33, 54, 63, 45, 57, 90, 99, 69, 46, 72, 78, 54};
        float[] expected = new float[16];
        for (int i = 0; i < 16; i++) expected[i] = Math.max(0, sums[i] - 20);
        float[] ones = new float[9];
        java.util.Arrays.fill(ones, 1);
        ModelSpec spec = InMemoryModels.spec(new InputShape(1, 4, 4), List.of(
                new Layer.Conv("conv", 1, Window.square(3, 1, 1), Activation.RELU),
                new Layer.Flatten(FlattenOrder.NCHW),
                new Layer.Dense("out", 16, Activation.NONE)));
        Result r = runOne(spec, Map.of("conv.weight", ones, "conv.bias", new float[] {-20},
                "out.weight", InMemoryModels.identity(16), "out.bias", new float[16]), ONE_TO_SIXTEEN);
        assertArrayEquals(expected, r.logits(0), 1e-5f);
    }

    @Test
    void strideTwoConvolutionWithoutPadding() {
        // 2x2 kernel [[1,0],[0,-1]], stride 2 on 1..16: x[r][c] - x[r+1][c+1] = -5 at every window.
        ModelSpec spec = InMemoryModels.spec(new InputShape(1, 4, 4), List.of(
                new Layer.Conv("conv", 1, Window.square(2, 2, 0), Activation.NONE),
                new Layer.Flatten(FlattenOrder.NCHW),
                new Layer.Dense("out", 4, Activation.NONE)));
        Result r = runOne(spec, Map.of("conv.weight", new float[] {1, 0, 0, -1}, "conv.bias", new float[] {0},
                "out.weight", InMemoryModels.identity(4), "out.bias", new float[4]), ONE_TO_SIXTEEN);
        assertArrayEquals(new float[] {-5, -5, -5, -5}, r.logits(0), 1e-5f);
    }

    @Test
    void maxPool2x2Stride2() {
        // 1..16 in 2x2 blocks: maxima 6, 8, 14, 16.
        ModelSpec spec = InMemoryModels.spec(new InputShape(1, 4, 4), List.of(
                new Layer.MaxPool(Window.square(2, 2, 0)),
                new Layer.Flatten(FlattenOrder.NCHW),
                new Layer.Dense("out", 4, Activation.NONE)));
        Result r = runOne(spec, Map.of("out.weight", InMemoryModels.identity(4), "out.bias", new float[4]),
                ONE_TO_SIXTEEN);
        assertArrayEquals(new float[] {6, 8, 14, 16}, r.logits(0), 0f);
    }

    @Test
    void denseWithBiasAndReluThenLinearLayer() {
        // x = [1, 2, 3]; hidden = relu(W1 x + b1) with W1 = [[1,0,-1],[2,1,0]], b1 = [0, -1]:
        // [1-3, 2+2-1] = [-2, 3] -> relu [0, 3]; logits = W2 h + b2 with W2 = [[1,1],[0,-2]], b2 = [0.5, 0]:
        // [3.5, -6].
        ModelSpec spec = InMemoryModels.spec(new InputShape(1, 1, 3), List.of(
                new Layer.Flatten(FlattenOrder.NCHW),
                new Layer.Dense("hidden", 2, Activation.RELU),
                new Layer.Dense("out", 2, Activation.SOFTMAX)));
        Result r = runOne(spec, Map.of("hidden.weight", new float[] {1, 0, -1, 2, 1, 0}, "hidden.bias", new float[] {0, -1},
                "out.weight", new float[] {1, 1, 0, -2}, "out.bias", new float[] {0.5f, 0}), new float[] {1, 2, 3});
        assertArrayEquals(new float[] {3.5f, -6f}, r.logits(0), 1e-6f);
    }

    @Test
    void softmaxOfOneTwoThree() {
        // softmax([1,2,3]) = e^k / (e + e^2 + e^3) = [0.09003057, 0.24472847, 0.66524096].
        ModelSpec spec = InMemoryModels.spec(new InputShape(1, 1, 3), List.of(
                new Layer.Flatten(FlattenOrder.NCHW),
                new Layer.Dense("out", 3, Activation.SOFTMAX)));
        Result r = runOne(spec, Map.of("out.weight", InMemoryModels.identity(3), "out.bias", new float[3]),
                new float[] {1, 2, 3});
        assertArrayEquals(new float[] {0.09003057f, 0.24472847f, 0.66524096f}, r.probabilities(0), 1e-6f);
        assertEquals(2, r.argmax(0));
    }

    @Test
    void nhwcFlattenOrdersChannelsLast() {
        // Input (C=2, H=1, W=2): channel 0 = [1, 2], channel 1 = [10, 20]. Channels-last flattening gives
        // (w0: c0, c1), (w1: c0, c1) = [1, 10, 2, 20]; NCHW would give [1, 2, 10, 20].
        List<Layer> head = List.of(new Layer.Flatten(FlattenOrder.NHWC), new Layer.Dense("out", 4, Activation.NONE));
        ModelSpec spec = InMemoryModels.spec(new InputShape(2, 1, 2), head);
        Result r = runOne(spec, Map.of("out.weight", InMemoryModels.identity(4), "out.bias", new float[4]),
                new float[] {1, 2, 10, 20});
        assertArrayEquals(new float[] {1, 10, 2, 20}, r.logits(0), 0f);
    }
}
