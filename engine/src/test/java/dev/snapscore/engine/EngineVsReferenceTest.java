package dev.snapscore.engine;

import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.reference.ReferenceNetwork;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Window;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Differential test: random VGG-like networks (random channels, sizes, kernels, strides, paddings, pools,
 * flatten orders, heads) and batch sizes, through oneDNN and through the plain-Java reference.
 */
class EngineVsReferenceTest {
    private static final Window[] CONV_WINDOWS = {Window.square(3, 1, 1), Window.square(1, 1, 0),
            Window.square(3, 2, 1), new Window(3, 1, 1, 1, 1, 0, 1, 0), Window.square(2, 1, 0)};
    private static final Window[] POOL_WINDOWS = {Window.square(2, 2, 0), Window.square(3, 1, 1), Window.square(3, 2, 1)};

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
    void randomNetworksMatchTheReference(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        InputShape input = new InputShape(1 + random.nextInt(4), 6 + random.nextInt(15), 6 + random.nextInt(15));
        List<Layer> layers = new ArrayList<>();
        int h = input.height(), w = input.width(), c = input.channels();
        for (int block = 0; block < 1 + random.nextInt(3); block++) {
            for (int k = 0; k < 1 + random.nextInt(2); k++) {
                Window win = CONV_WINDOWS[random.nextInt(CONV_WINDOWS.length)];
                if (win.outHeight(h) < 1 || win.outWidth(w) < 1) continue;
                c = 1 + random.nextInt(24);
                layers.add(new Layer.Conv("conv" + layers.size(), c, win, random.nextBoolean() ? Activation.RELU : Activation.NONE));
                h = win.outHeight(h);
                w = win.outWidth(w);
            }
            Window pool = POOL_WINDOWS[random.nextInt(POOL_WINDOWS.length)];
            if (pool.outHeight(h) >= 1 && pool.outWidth(w) >= 1) {
                layers.add(new Layer.MaxPool(pool));
                h = pool.outHeight(h);
                w = pool.outWidth(w);
            }
        }
        layers.add(new Layer.Flatten(random.nextBoolean() ? FlattenOrder.NCHW : FlattenOrder.NHWC));
        for (int d = 0; d < random.nextInt(3); d++) {
            layers.add(new Layer.Dense("dense" + layers.size(), 1 + random.nextInt(40), Activation.RELU));
            if (random.nextBoolean()) layers.add(new Layer.Dropout(0.5f));
        }
        layers.add(new Layer.Dense("logits", 2 + random.nextInt(6), Activation.SOFTMAX));
        ModelSpec spec = InMemoryModels.spec(input, layers);

        Map<String, float[]> values = InMemoryModels.randomWeights(spec, random);
        int n = 1 + random.nextInt(5);
        float[] x = new float[(int) (n * input.elements())];
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();

        LoadedModel loaded = InMemoryModels.build(spec, values);
        float[] want = ReferenceNetwork.logits(spec, loaded.weights(), x, n);
        try (Model model = Model.of(loaded); Session session = model.newSession()) {
            Result r = session.run(FloatBuffer.wrap(x), n);
            double scale = 1;
            for (float v : want) scale = Math.max(scale, Math.abs(v));
            double diff = Fixtures.maxAbsDiff(r.logits(), want);
            assertTrue(diff <= 1e-4 * scale, "seed " + seed + " (" + layers.size() + " layers, batch " + n + ", input "
                    + input + "): max abs diff " + diff + " at logit scale " + scale + "\n" + layers);
            double pdiff = Fixtures.maxAbsDiff(r.probabilities(), ReferenceNetwork.softmax(want, n, spec.classes()));
            assertTrue(pdiff <= 1e-4, "probabilities differ by " + pdiff);
        }
    }
}
