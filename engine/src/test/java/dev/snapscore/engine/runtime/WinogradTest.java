package dev.snapscore.engine.runtime;

import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Fixtures;
import dev.snapscore.engine.InMemoryModels;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelFormats;
import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.reference.ReferenceNetwork;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import dev.snapscore.engine.spec.Window;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Winograd F(4, 3) convolutions against the plain-Java reference, and the rule that picks them. */
class WinogradTest {
    private static final Lowering EVERYWHERE = new Lowering(CpuCapabilities.detect(), false, new Winograd.Rule(1, 1));

    /**
     * Random stacks of 3×3 convolutions and pools, every convolution run as Winograd: odd and even sides (so
     * partial blocks), 1 to 40 channels, with and without ReLU, batches 1 to 4.
     */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void randomNetworksMatchTheReference(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        InputShape input = new InputShape(1 + random.nextInt(3), 5 + random.nextInt(20), 5 + random.nextInt(20));
        List<Layer> layers = new ArrayList<>();
        int h = input.height(), w = input.width(), convs = 0;
        for (int block = 0; block < 1 + random.nextInt(3); block++) {
            for (int k = 0; k < 1 + random.nextInt(2); k++, convs++) {
                layers.add(new Layer.Conv("conv" + layers.size(), 1 + random.nextInt(40), Window.square(3, 1, 1),
                        random.nextInt(4) == 0 ? Activation.NONE : Activation.RELU));
            }
            if (h >= 2 && w >= 2) {
                layers.add(new Layer.MaxPool(Window.square(2, 2, 0)));
                h /= 2;
                w /= 2;
            }
        }
        layers.add(new Layer.Flatten(random.nextBoolean() ? FlattenOrder.NCHW : FlattenOrder.NHWC));
        layers.add(new Layer.Dense("dense" + layers.size(), 1 + random.nextInt(30), Activation.RELU));
        layers.add(new Layer.Dense("logits", 2 + random.nextInt(6), Activation.SOFTMAX));
        ModelSpec spec = InMemoryModels.spec(input, layers);

        Map<String, float[]> values = InMemoryModels.randomWeights(spec, random);
        int n = 1 + random.nextInt(4);
        float[] x = new float[(int) (n * input.elements())];
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();

        try (LoadedModel loaded = InMemoryModels.build(spec, values);
             OneDnnNetwork network = new OneDnnNetwork(spec, loaded.weights(), EVERYWHERE);
             OneDnnExecutor executor = network.newExecutor(2)) {
            float[] want = ReferenceNetwork.logits(spec, loaded.weights(), x, n);
            float[] got = TestRuns.logits(executor, MemorySegment.ofArray(x), n, spec.classes());
            String context = "seed " + seed + " (batch " + n + ", input " + input + ")\n" + layers;
            assertEquals(convs, winogradLayers(network.implementations(n)), "every convolution as Winograd: " + context);
            assertFalse(network.implementations(n).values().stream().anyMatch(i -> i.startsWith("ref")),
                    "oneDNN's reference kernels are too slow to use: " + network.implementations(n));
            double spread = 0;
            for (float v : want) spread = Math.max(spread, Math.abs(v));
            assertTrue(spread > 1e-3, "logits should not vanish: " + context); // else any wrong view would pass
            double diff = Fixtures.maxAbsDiff(got, want);
            assertTrue(diff <= 1e-4 * Math.max(1, spread), context + ": max abs diff " + diff + " at logit scale " + spread);
        }
    }

    /**
     * The PyTorch-made fixture models with all 13 convolutions as Winograd (conv5 at 14×14 has partial
     * blocks), against ONNX Runtime's logits made outside this project, within the 1e-3 asked of the engine.
     */
    @Test
    void fixtureModelsMatchOnnxRuntimeReferences() {
        for (String name : Fixtures.MODELS) {
            try (LoadedModel loaded = ModelFormats.read(Fixtures.model(name));
                 Weights io = Safetensors.read(Fixtures.model(name).resolve("io.safetensors"));
                 OneDnnNetwork network = new OneDnnNetwork(loaded.spec(), loaded.weights(), EVERYWHERE);
                 OneDnnExecutor executor = network.newExecutor(2)) {
                Tensor input = io.tensors().get("input");
                int n = (int) input.dim(0);
                float[] want = Fixtures.floats(io.tensors().get("logits"));
                float[] got = TestRuns.logits(executor, input.data(), n, loaded.spec().classes());
                assertEquals(13, winogradLayers(network.implementations(n)), name);
                assertTrue(Fixtures.maxAbsDiff(got, want) <= 1e-3, name + ": max abs diff " + Fixtures.maxAbsDiff(got, want));
            }
        }
    }

    /** VGG16's layers under the measured rule: 256 input channels or more, and 32 tiles (of 4×4 outputs) per run. */
    @Test
    void measuredRulePicksTheWideLayersWithEnoughTiles() {
        Layer.Conv conv = new Layer.Conv("c", 512, Window.square(3, 1, 1), Activation.RELU);
        Winograd.Rule rule = Winograd.Rule.MEASURED;
        assertFalse(Winograd.applies(conv, 64, 1, 224, 224, rule), "conv1_2: 64 channels");
        assertFalse(Winograd.applies(conv, 128, 8, 56, 56, rule), "conv3_1: 128 channels");
        assertTrue(Winograd.applies(conv, 256, 1, 56, 56, rule), "conv3_2: 196 tiles");
        assertTrue(Winograd.applies(conv, 512, 1, 28, 28, rule), "conv4_2: 49 tiles");
        assertFalse(Winograd.applies(conv, 512, 1, 14, 14, rule), "conv5 at batch 1: 16 tiles");
        assertTrue(Winograd.applies(conv, 512, 2, 14, 14, rule), "conv5 at batch 2: 32 tiles");
        assertFalse(Winograd.applies(new Layer.Conv("s2", 512, Window.square(3, 2, 1), Activation.RELU), 512, 8, 56, 56, rule));
        assertFalse(Winograd.applies(new Layer.Conv("1x1", 512, Window.square(1, 1, 0), Activation.RELU), 512, 8, 56, 56, rule));
    }

    /**
     * The public option on a half-width VGG16 at 64×64: at batch 16 its two 256-channel layers at 8×8 (64 tiles)
     * run as Winograd, giving the direct model's logits; at batch 1 (4 tiles) nothing does.
     */
    @Test
    void winogradOptionMatchesDirectWhereItApplies() {
        var config = new ModelGenerator.Config("vgg16", 0.5, List.of(32), 6, FlattenOrder.NCHW, 5, 64);
        try (Model direct = Model.of(ModelGenerator.generate(config), TestRuns.DIRECT);
             Model winograd = Model.of(ModelGenerator.generate(config), ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.WINOGRAD));
             Session d = direct.newSession(2); Session w = winograd.newSession(2); Arena arena = Arena.ofConfined()) {
            assertEquals(0, winogradLayers(winograd.implementations(1)));
            assertEquals(2, winogradLayers(winograd.implementations(16)), winograd.implementations(16).toString());
            MemorySegment x = TestRuns.images(arena, direct.spec().input().elements(), 16, 9);
            float[] want = d.run(x, 16).logits(), got = w.run(x, 16).logits();
            double scale = 1;
            for (float v : want) scale = Math.max(scale, Math.abs(v));
            assertTrue(Fixtures.maxAbsDiff(got, want) <= 1e-4 * scale, "max abs diff " + Fixtures.maxAbsDiff(got, want) + " at scale " + scale);
        }
    }

    /**
     * AUTO times each candidate layer both ways and keeps the faster: whichever it keeps, the logits stay
     * within 1e-4 of direct's, and every step runs an optimised kernel.
     */
    @Test
    void autoMatchesDirect() {
        var config = new ModelGenerator.Config("vgg16", 0.5, List.of(32), 6, FlattenOrder.NCHW, 5, 64);
        try (Model direct = Model.of(ModelGenerator.generate(config), TestRuns.DIRECT);
             Model auto = Model.of(ModelGenerator.generate(config), ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.AUTO).withThreads(2));
             Session d = direct.newSession(2); Session a = auto.newSession(2); Arena arena = Arena.ofConfined()) {
            for (int n : new int[] {1, 16}) {
                MemorySegment x = TestRuns.images(arena, direct.spec().input().elements(), n, 11);
                float[] want = d.run(x, n).logits(), got = a.run(x, n).logits();
                double scale = 1;
                for (float v : want) scale = Math.max(scale, Math.abs(v));
                System.out.println("auto at batch " + n + ": " + winogradLayers(auto.implementations(n)) + " Winograd layers of 13");
                assertTrue(Fixtures.maxAbsDiff(got, want) <= 1e-4 * scale, "batch " + n + ": max abs diff " + Fixtures.maxAbsDiff(got, want));
                assertFalse(auto.implementations(n).values().stream().anyMatch(i -> i.startsWith("ref")), auto.implementations(n).toString());
            }
        }
    }

    /**
     * The default is AUTO: a fixture model loaded with the defaults (no plan cache, so it times its layers) gives
     * direct's logits within 1e-4 of their size at batch 1 and 4.
     */
    @Test
    void theDefaultIsAutoAndMatchesDirect() {
        assertEquals(ConvolutionAlgorithm.AUTO, ModelOptions.defaults().convolution());
        Path dir = Fixtures.model("vgg-mini-nchw");
        try (Model byDefault = Model.load(dir, ModelOptions.defaults().withCache(false).withThreads(2));
             Model direct = Model.load(dir, TestRuns.DIRECT.withCache(false).withThreads(2));
             Session a = byDefault.newSession(); Session d = direct.newSession(); Arena arena = Arena.ofConfined()) {
            assertEquals(ConvolutionAlgorithm.AUTO, byDefault.options().convolution());
            a.prepare(4);
            for (int n : new int[] {1, 4}) {
                MemorySegment x = TestRuns.images(arena, direct.spec().input().elements(), n, 5);
                float[] want = d.run(x, n).logits(), got = a.run(x, n).logits();
                double scale = 0;
                for (float v : want) scale = Math.max(scale, Math.abs(v));
                System.out.println("default at batch " + n + ": " + winogradLayers(byDefault.implementations(n)) + " Winograd layers of 13");
                assertTrue(scale > 0, "the fixture gives non-zero logits");
                assertTrue(Fixtures.maxAbsDiff(got, want) <= 1e-4 * scale,
                        "batch " + n + ": max abs diff " + Fixtures.maxAbsDiff(got, want) + " at scale " + scale);
            }
        }
    }

    private static long winogradLayers(Map<String, String> implementations) {
        return implementations.keySet().stream().filter(step -> step.endsWith("(winograd products)")).count();
    }
}
