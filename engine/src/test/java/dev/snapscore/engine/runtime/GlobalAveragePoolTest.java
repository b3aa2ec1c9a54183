package dev.snapscore.engine.runtime;

import dev.snapscore.engine.Fixtures;
import dev.snapscore.engine.InMemoryModels;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.reference.ReferenceNetwork;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Window;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Networks ending their conv base in a global average pool, with NCHW or NHWC inputs, through oneDNN
 * (every 3×3 convolution direct, then every one as Winograd) and through the plain-Java reference.
 */
class GlobalAveragePoolTest {
    private static final Winograd.Rule EVERYWHERE = new Winograd.Rule(1, 1);

    /**
     * Random conv bases (1 to 40 channels, 3×3 and 1×1 convolutions, 2×2 pools, odd and even sides so the
     * pool averages 1 to 400 values), a global average pool, a random flatten order and head; batches 1 to 4.
     * Odd seeds take an NHWC input, even ones NCHW.
     */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void randomNetworksMatchTheReference(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        InputLayout layout = seed % 2 == 1 ? InputLayout.NHWC : InputLayout.NCHW;
        InputShape input = new InputShape(1 + random.nextInt(4), 5 + random.nextInt(20), 5 + random.nextInt(20), layout);
        List<Layer> layers = new ArrayList<>();
        int h = input.height(), w = input.width(), winogradable = 0;
        for (int block = 0; block < 1 + random.nextInt(3); block++) {
            for (int k = 0; k < 1 + random.nextInt(2); k++) {
                boolean threeByThree = random.nextInt(4) != 0;
                if (threeByThree) winogradable++;
                layers.add(new Layer.Conv("conv" + layers.size(), 1 + random.nextInt(40),
                        threeByThree ? Window.square(3, 1, 1) : Window.square(1, 1, 0),
                        random.nextInt(4) == 0 ? Activation.NONE : Activation.RELU));
            }
            if (h >= 2 && w >= 2 && random.nextBoolean()) {
                layers.add(new Layer.MaxPool(Window.square(2, 2, 0)));
                h /= 2;
                w /= 2;
            }
        }
        layers.add(new Layer.GlobalAveragePool());
        layers.add(new Layer.Flatten(random.nextBoolean() ? FlattenOrder.NCHW : FlattenOrder.NHWC));
        for (int d = 0; d < random.nextInt(3); d++) {
            layers.add(new Layer.Dense("dense" + layers.size(), 1 + random.nextInt(30), Activation.RELU));
        }
        layers.add(new Layer.Dense("logits", 2 + random.nextInt(6), Activation.SOFTMAX));
        ModelSpec spec = InMemoryModels.spec(input, layers);
        Map<String, float[]> values = InMemoryModels.randomWeights(spec, random);
        // Inputs with a mean: a global average of zero-mean noise would leave the head little to tell apart.
        float[] x = new float[(int) (4 * input.elements())];
        for (int i = 0; i < x.length; i++) x[i] = (float) (1 + random.nextGaussian());

        try (LoadedModel loaded = InMemoryModels.build(spec, values)) {
            for (Winograd.Rule rule : new Winograd.Rule[] {Winograd.Rule.NEVER, EVERYWHERE}) {
                try (OneDnnNetwork network = new OneDnnNetwork(spec, loaded.weights(), new Lowering(CpuCapabilities.detect(), false, rule));
                     OneDnnExecutor executor = network.newExecutor(2)) {
                    for (int n = 1; n <= 4; n++) {
                        float[] batch = java.util.Arrays.copyOf(x, (int) (n * input.elements()));
                        float[] want = ReferenceNetwork.logits(spec, loaded.weights(), batch, n);
                        float[] got = TestRuns.logits(executor, MemorySegment.ofArray(batch), n, spec.classes());
                        String context = "seed " + seed + " (batch " + n + ", input " + input + ", "
                                + (rule == EVERYWHERE ? "winograd" : "direct") + ")\n" + layers;
                        Map<String, String> steps = network.implementations(n);
                        assertEquals(1, steps.keySet().stream().filter(s -> s.endsWith(" global_avgpool")).count(), context + "\n" + steps);
                        assertEquals(rule == EVERYWHERE ? winogradable : 0,
                                steps.keySet().stream().filter(s -> s.endsWith("(winograd products)")).count(), context);
                        double spread = 0;
                        for (float v : want) spread = Math.max(spread, Math.abs(v));
                        assertTrue(spread > 1e-3, "logits should not vanish: " + context);
                        double diff = Fixtures.maxAbsDiff(got, want);
                        System.out.printf("global average pool, %s: max abs diff %.3g at logit scale %.3g%n",
                                context.lines().findFirst().orElseThrow(), diff, spread);
                        assertTrue(diff <= 1e-4 * Math.max(1, spread), context + ": max abs diff " + diff + " at logit scale " + spread);
                    }
                }
            }
        }
    }
}
