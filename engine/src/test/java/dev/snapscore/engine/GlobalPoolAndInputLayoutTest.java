package dev.snapscore.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.snapscore.engine.batch.BatchScorer;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.format.OnnxExporter;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.photo.PhotoPipeline;
import dev.snapscore.engine.runtime.TestRuns;
import dev.snapscore.engine.serving.Scorer;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Models with a global average pool and NHWC inputs through the public API: read back from our format,
 * against ONNX Runtime on the ONNX export, with Winograd, and scoring photos through every driver.
 */
class GlobalPoolAndInputLayoutTest {

    private static ModelGenerator.Config config(double width, List<Integer> head, int classes, int size,
                                                ModelGenerator.Pool pool, InputLayout layout) {
        return new ModelGenerator.Config("vgg16", width, head, classes, FlattenOrder.NCHW, 11, size, pool, layout);
    }

    /**
     * A generated model with its output layer's weights divided by 1000: He-scaled weights on Caffe-range pixels
     * give logits in the hundreds, whose softmax is one-hot and would hide small differences between photos.
     */
    private static LoadedModel softened(ModelGenerator.Config config) {
        LoadedModel m = ModelGenerator.generate(config);
        var w = m.weights().tensors().get(((Layer.Dense) m.spec().layers().getLast()).weightName()).data();
        for (long i = 0; i < w.byteSize() / Float.BYTES; i++) w.setAtIndex(JAVA_FLOAT, i, w.getAtIndex(JAVA_FLOAT, i) / 1000);
        return m;
    }

    /**
     * A generated VGG16 at 1/8 width with the Keras transfer-learning head (global average pool over 2×2,
     * then dense layers), written in our format and read back, against ONNX Runtime on its ONNX export (a
     * GlobalAveragePool node; for NHWC an [N, H, W, C] input and a Transpose), batches 1 and 4.
     */
    @ParameterizedTest
    @EnumSource(InputLayout.class)
    void gapModelsAgreeWithOnnxRuntimeOnTheirExport(InputLayout layout, @TempDir Path dir) throws Exception {
        Path model = dir.resolve("model"), onnx = dir.resolve("model.onnx");
        try (LoadedModel generated = ModelGenerator.generate(config(0.125, List.of(32), 5, 64, ModelGenerator.Pool.GAP, layout))) {
            ModelDirectory.write(model, generated.spec(), generated.weights());
            OnnxExporter.write(onnx, generated.spec(), generated.weights());
        }
        try (Model m = Model.load(model); Session s = m.newSession(2)) {
            InputShape in = m.spec().input();
            assertEquals(layout, in.layout(), "the layout survives spec.json");
            int pool = m.spec().layers().indexOf(new Layer.GlobalAveragePool());
            assertTrue(pool > 0, "the pool survives spec.json");
            assertArrayEquals(new long[] {512 / 8, 1, 1}, m.spec().outputShapes().get(pool));
            var env = OrtEnvironment.getEnvironment();
            try (var options = new OrtSession.SessionOptions(); var ort = env.createSession(onnx.toString(), options)) {
                long[] ortShape = ((TensorInfo) ort.getInputInfo().get("input").getInfo()).getShape();
                assertArrayEquals(layout == InputLayout.NHWC ? new long[] {-1, 64, 64, 3} : new long[] {-1, 3, 64, 64}, ortShape);
                for (int n : new int[] {1, 4}) {
                    float[] x = SessionTest.randomImages(n, n, (int) in.elements());
                    float[][] want;
                    try (var tensor = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), in.dims(n));
                         var result = ort.run(Map.of("input", tensor))) {
                        want = (float[][]) result.get("logits").orElseThrow().getValue();
                    }
                    Result got = s.run(FloatBuffer.wrap(x), n);
                    double spread = 0, diff = 0;
                    for (int i = 0; i < n; i++) {
                        for (float v : want[i]) spread = Math.max(spread, Math.abs(v));
                        diff = Math.max(diff, Fixtures.maxAbsDiff(got.logits(i), want[i]));
                    }
                    System.out.printf("GAP %s batch %d vs ONNX Runtime: max abs diff %.3g at logit scale %.3g%n", layout, n, diff, spread);
                    assertTrue(spread > 1e-2, "logits should not vanish: " + spread);
                    assertTrue(diff <= 1e-4 * Math.max(1, spread), layout + " batch " + n + ": max abs diff " + diff + " at scale " + spread);
                }
            }
        }
    }

    /**
     * {@code Model.load(path, WINOGRAD)} on a half-width GAP model with an NHWC input at 64×64: at batch 16 its
     * two 256-channel layers run as Winograd (the measured rule), and the logits are the direct model's.
     */
    @Test
    void winogradOnAGapModelMatchesDirect(@TempDir Path dir) throws Exception {
        try (LoadedModel generated = ModelGenerator.generate(config(0.5, List.of(32), 6, 64, ModelGenerator.Pool.GAP, InputLayout.NHWC))) {
            ModelDirectory.write(dir, generated.spec(), generated.weights());
        }
        try (Model direct = Model.load(dir, TestRuns.DIRECT); Model winograd = Model.load(dir, ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.WINOGRAD));
             Session d = direct.newSession(2); Session w = winograd.newSession(2)) {
            assertEquals(2, winograd.implementations(16).keySet().stream().filter(k -> k.endsWith("(winograd products)")).count(),
                    winograd.implementations(16).toString());
            float[] x = SessionTest.randomImages(3, 16, (int) direct.spec().input().elements());
            float[] want = d.run(FloatBuffer.wrap(x), 16).logits(), got = w.run(FloatBuffer.wrap(x), 16).logits();
            double scale = 0;
            for (float v : want) scale = Math.max(scale, Math.abs(v));
            double diff = Fixtures.maxAbsDiff(got, want);
            System.out.printf("GAP NHWC batch 16, winograd vs direct: max abs diff %.3g at logit scale %.3g%n", diff, scale);
            assertTrue(scale > 1e-2 && diff <= 1e-4 * scale, "max abs diff " + diff + " at scale " + scale);
        }
    }

    /**
     * An NHWC-input model and its NCHW twin (same weights): the same images given in each layout give the
     * same logits, and photos scored through {@code Session.score}, the serving {@code Scorer} and the folder
     * {@code BatchScorer} (each preprocessing into the model's own layout) give the twin's probabilities.
     */
    @ParameterizedTest
    @EnumSource(ModelGenerator.Pool.class)
    void nhwcInputScoresLikeItsNchwTwin(ModelGenerator.Pool pool) throws Exception {
        List<Path> photos = new ArrayList<>();
        for (String name : new String[] {"astronaut.png", "chelsea.png", "coffee.png"}) photos.add(Fixtures.image(name));
        try (Model nchw = Model.of(softened(config(0.125, List.of(16), 4, 64, pool, InputLayout.NCHW)), TestRuns.DIRECT);
             Model nhwc = Model.of(softened(config(0.125, List.of(16), 4, 64, pool, InputLayout.NHWC)), TestRuns.DIRECT);
             Session a = nchw.newSession(2); Session b = nhwc.newSession(2)) {
            int n = 3, c = 3, h = 64, w = 64;
            float[] planar = SessionTest.randomImages(5, n, c * h * w), interleaved = new float[planar.length];
            for (int i = 0; i < n; i++)
                for (int ch = 0; ch < c; ch++)
                    for (int p = 0; p < h * w; p++) interleaved[(i * h * w + p) * c + ch] = planar[(i * c + ch) * h * w + p];
            float[] want = a.run(FloatBuffer.wrap(planar), n).logits(), got = b.run(FloatBuffer.wrap(interleaved), n).logits();
            double scale = 0;
            for (float v : want) scale = Math.max(scale, Math.abs(v));
            double diff = Fixtures.maxAbsDiff(got, want);
            System.out.printf("%s: NHWC vs NCHW twin, Session.run: max abs diff %.3g at logit scale %.3g%n", pool, diff, scale);
            assertTrue(scale > 1e-2 && diff <= 1e-5 * scale, "max abs diff " + diff + " at scale " + scale);
            // The twins must tell layouts apart, or the comparisons below would prove nothing.
            double misread = Fixtures.maxAbsDiff(a.run(FloatBuffer.wrap(interleaved), n).logits(), want);
            assertTrue(misread > 1e-2 * scale, "the NCHW model reads interleaved images as it reads planar ones: " + misread);

            List<Prediction> twin = a.score(photos), scored = b.score(photos);
            List<float[]> viaScorer = new ArrayList<>(), viaBatch = new ArrayList<>();
            try (Scorer scorer = Scorer.start(nhwc, Scorer.Options.defaults())) {
                for (Path p : photos) viaScorer.add(scorer.submit(p).join().prediction().probabilities());
            }
            try (PhotoPipeline pipeline = PhotoPipeline.forModel(nhwc.spec(), ImageDecoder.withDefaults(), DecodeOptions.DEFAULT, null)) {
                BatchScorer.run(b, pipeline, photos, new BatchScorer.Options(2, 1),
                        rows -> rows.forEach(r -> viaBatch.add(r.prediction().probabilities())));
            }
            double scoreDiff = 0, top = 0;
            for (int i = 0; i < photos.size(); i++) {
                float[] p = twin.get(i).probabilities();
                top = Math.max(top, twin.get(i).probability());
                assertEquals(twin.get(i).labelIndex(), scored.get(i).labelIndex(), photos.get(i).toString());
                for (float[] other : List.of(scored.get(i).probabilities(), viaScorer.get(i), viaBatch.get(i))) {
                    scoreDiff = Math.max(scoreDiff, Fixtures.maxAbsDiff(other, p));
                }
            }
            System.out.printf("%s: NHWC vs NCHW twin on 3 photos (score, Scorer, BatchScorer): max abs diff %.3g in probabilities%n",
                    pool, scoreDiff);
            assertTrue(top < 0.999, "saturated probabilities would hide differences: " + top);
            assertTrue(scoreDiff <= 1e-5, "probabilities differ by " + scoreDiff);
        }
    }
}
