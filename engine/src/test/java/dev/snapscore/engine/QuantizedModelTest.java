package dev.snapscore.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.format.OnnxExporter;
import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.quantize.InputSet;
import dev.snapscore.engine.quantize.Quantizer;
import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.engine.reference.ReferenceNetwork;
import dev.snapscore.engine.runtime.DenseInF32;
import dev.snapscore.engine.runtime.TestRuns;
import dev.snapscore.engine.spec.ElementType;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Quantization;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** int8 models: quantised by {@link Quantizer}, run on oneDNN's int8 kernels, checked against f32 and by hand. */
class QuantizedModelTest {
    private static final Quantizer.Options MAX = new Quantizer.Options(Quantizer.Method.MAX, 100, true, 4, 2);

    /**
     * The whole int8 plan (input quantisation, u8 convolutions with per-channel weight scales and
     * requantised outputs, integer max-pools, int8 dense layers, f32 logits) against the same network
     * simulated in Java: s8 weights × scales, every activation rounded to its levels. Only rounding ties
     * and summation order differ: an image's logits agree to 1e-4 of their spread, unless a value near a
     * rounding boundary fell the other way (one image in six does on the Keras model, by 2%), so all but one
     * image must agree that closely and every one within 3%. The simulation
     * runs what oneDNN runs on this CPU ({@link #whatOneDnnRuns}); {@code adapted} runs the model a CPU
     * without VNNI gets on every CPU, so both forms are checked wherever this runs. {@code keras} takes the
     * Keras transfer-learning shape: an NHWC input and a global average pool (of u8 values, into u8) before the head.
     */
    @ParameterizedTest(name = "adapted {0}, keras {1}")
    @CsvSource({"false, false", "true, false", "false, true", "true, true"})
    void int8PlanMatchesAJavaSimulationOfTheQuantisedNetwork(boolean adapted, boolean keras) {
        var config = keras ? keras(1.0 / 16, List.of(24, 16), 5, 3)
                : new ModelGenerator.Config("vgg16", 1.0 / 16, List.of(24, 16), 5, FlattenOrder.NHWC, 3, 32);
        int n = 6;
        try (LoadedModel f32 = ModelGenerator.generate(config);
             Arena arena = Arena.ofConfined()) {
            MemorySegment inputs = TestRuns.images(arena, f32.spec().input().elements(), 2 * n, 11);
            LoadedModel int8;
            try (InputSet calibration = InputSet.of(inputs, n, f32.spec())) {
                int8 = Quantizer.quantize(f32, calibration, MAX, line -> { });
            }
            try (int8) {
                var run = adapted ? DenseInF32.of(int8.spec(), int8.weights(), arena)
                        : new DenseInF32(int8.spec(), int8.weights());
                if (adapted) assertTrue(run.weights() != int8.weights(), "the generated network has layers to adapt");
                // A model over the same tensors; the test, not the model, owns them.
                Weights view = new Weights(Arena.ofShared(), run.weights().tensors());
                try (Model model = Model.of(new LoadedModel(run.spec(), view)); Session session = model.newSession(2)) {
                    MemorySegment heldOut = inputs.asSlice(n * f32.spec().input().elements() * 4L);
                    float[] got = session.run(heldOut, n).logits();
                    var engineRuns = whatOneDnnRuns(run, arena);
                    float[] want = ReferenceNetwork.logits(engineRuns.spec(), engineRuns.weights(), heldOut.toArray(JAVA_FLOAT), n);
                    double spread = 0;
                    for (float v : want) spread = Math.max(spread, Math.abs(v));
                    double diff = Fixtures.maxAbsDiff(got, want);
                    int classes = f32.spec().classes();
                    List<Double> perImage = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        perImage.add(Fixtures.maxAbsDiff(Arrays.copyOfRange(got, i * classes, (i + 1) * classes),
                                Arrays.copyOfRange(want, i * classes, (i + 1) * classes)));
                    }
                    System.out.printf("int8 (adapted %s, keras %s) vs its Java simulation: max abs diff %.3g at logit scale %.3g, per image %s%n",
                            adapted, keras, diff, spread, perImage);
                    assertTrue(diff <= 0.03 * spread, "int8 logits differ from the simulation by " + diff + " (spread " + spread + ")");
                    double close = 1e-4 * spread;
                    assertTrue(perImage.stream().filter(d -> d <= close).count() >= n - 1,
                            "more than one image differs from the simulation: " + perImage + " (spread " + spread + ")");
                    assertTrue(spread > 0, "the network must produce non-zero logits");
                }
            }
        }
    }

    /** VGG16 as Keras' transfer learning builds it: NHWC input, all five pools, a global average pool (over 2×2 at 64×64), a dense head. */
    private static ModelGenerator.Config keras(double width, List<Integer> head, int classes, long seed) {
        return new ModelGenerator.Config("vgg16", width, head, classes, FlattenOrder.NHWC, seed, 64,
                ModelGenerator.Pool.GAP, InputLayout.NHWC);
    }

    /**
     * The network oneDNN computes on this CPU. Without VNNI that is the engine's adaptation (f32 dense
     * layers) and, for layers reading s8 (the first conv), oneDNN's own: its weight reorder halves those levels, rounding half to
     * even, and doubles the scale (the verbose log shows "sa0.5").
     */
    private static DenseInF32 whatOneDnnRuns(DenseInF32 model, Arena arena) {
        if (Dnnl.hasInt8Vnni()) return model;
        var adapted = DenseInF32.of(model.spec(), model.weights(), arena);
        ModelSpec spec = adapted.spec();
        Map<String, Tensor> tensors = new LinkedHashMap<>(adapted.weights().tensors());
        String layer = ((Layer.Conv) spec.layers().getFirst()).name();
        assertEquals(ElementType.S8, spec.quantization().input().type());
        Tensor w = tensors.get(layer + ".weight"), scale = tensors.get(Quantization.weightScaleName(layer));
        MemorySegment halved = arena.allocate(w.data().byteSize());
        for (long i = 0; i < w.data().byteSize(); i++) halved.set(ValueLayout.JAVA_BYTE, i, (byte) Math.rint(w.data().get(ValueLayout.JAVA_BYTE, i) / 2.0));
        float[] doubled = scale.data().toArray(JAVA_FLOAT);
        for (int c = 0; c < doubled.length; c++) doubled[c] *= 2;
        tensors.put(w.name(), new Tensor(w.name(), w.shape(), ElementType.S8, halved));
        tensors.put(scale.name(), new Tensor(scale.name(), scale.shape(), arena.allocateFrom(JAVA_FLOAT, doubled)));
        return new DenseInF32(spec, new Weights(arena, tensors));
    }

    /**
     * Both fixture models quantised on a calibration folder (the cat and coffee photos, and half of the
     * reference inputs as a tensor file), then run on the other half and on the astronaut photo (held
     * out): the same top-1 as ONNX Runtime's f32 references, probabilities within 0.1.
     */
    @ParameterizedTest
    @ValueSource(strings = {"vgg-mini-nchw", "vgg-mini-nhwc"})
    void fixtureModelsKeepTheirTopOneAfterQuantisation(String name, @TempDir Path calibration) throws IOException {
        try (Weights io = Safetensors.read(Fixtures.model(name).resolve("io.safetensors"));
             LoadedModel f32 = ModelDirectory.read(Fixtures.model(name))) {
            Tensor input = io.tensors().get("input");
            int total = (int) input.dim(0), calibrate = total / 2, heldOut = total - calibrate;
            long perImage = f32.spec().input().elements() * Float.BYTES;
            long[] half = input.shape();
            half[0] = calibrate;
            Safetensors.write(calibration.resolve("half.safetensors"),
                    List.of(new Tensor("input", half, input.data().asSlice(0, calibrate * perImage))));
            for (String photo : List.of("chelsea.png", "coffee.png")) {
                Files.copy(Fixtures.image(photo), calibration.resolve(photo));
            }
            LoadedModel int8;
            List<String> skipped = new ArrayList<>();
            try (InputSet set = InputSet.read(calibration, f32.spec(), 100, skipped::add)) {
                assertEquals(calibrate + 2, set.count());
                int8 = Quantizer.quantize(f32, set, MAX, line -> { });
            }
            assertEquals(List.of(), skipped);
            int classes = f32.spec().classes();
            float[] wantProbs = Fixtures.floats(io.tensors().get("probs"));
            try (Model model = Model.of(int8); Session session = model.newSession(2)) {
                Result r = session.run(input.data().asSlice(calibrate * perImage, heldOut * perImage), heldOut);
                for (int i = 0; i < heldOut; i++) {
                    float[] want = java.util.Arrays.copyOfRange(wantProbs, (calibrate + i) * classes, (calibrate + i + 1) * classes);
                    assertEquals(argmax(want), r.argmax(i), name + " top-1 of held-out sample " + i);
                    assertTrue(Fixtures.maxAbsDiff(r.probabilities(i), want) < 0.1,
                            name + " probabilities of held-out sample " + i + " differ by " + Fixtures.maxAbsDiff(r.probabilities(i), want));
                }
                Result photo = session.run(io.tensors().get("image_input").data(), 1);
                float[] wantPhoto = Fixtures.floats(io.tensors().get("image_probs"));
                assertEquals(argmax(wantPhoto), photo.argmax(0), name + " top-1 of the astronaut photo");
                assertTrue(Fixtures.maxAbsDiff(photo.probabilities(0), wantPhoto) < 0.1,
                        name + " astronaut probabilities differ by " + Fixtures.maxAbsDiff(photo.probabilities(0), wantPhoto));
            }
        }
    }

    @Test
    void int8ModelRoundTripsThroughTheDirectoryFormat(@TempDir Path dir) throws IOException {
        var config = new ModelGenerator.Config("vgg16", 1.0 / 16, List.of(24), 3, FlattenOrder.NCHW, 5, 32);
        try (LoadedModel f32 = ModelGenerator.generate(config); Arena arena = Arena.ofConfined()) {
            MemorySegment inputs = TestRuns.images(arena, f32.spec().input().elements(), 4, 2);
            long f32Bytes = 0;
            for (Tensor t : f32.weights().tensors().values()) f32Bytes += t.data().byteSize();
            float[] inMemory;
            try (InputSet set = InputSet.of(inputs, 4, f32.spec());
                 LoadedModel int8 = Quantizer.quantize(f32, set, MAX, line -> { })) {
                ModelDirectory.write(dir, int8.spec(), int8.weights());
                try (Model m = Model.of(new LoadedModel(int8.spec(), int8.weights())); Session s = m.newSession(1)) {
                    inMemory = s.run(inputs, 4).logits();
                }
            }
            try (Model loaded = Model.load(dir); Session s = loaded.newSession(1)) {
                assertEquals(f32.spec().quantization(), null);
                assertEquals(ElementType.U8, loaded.spec().quantization().layers().get("features.0").type());
                assertArrayEquals(inMemory, s.run(inputs, 4).logits(), "the written model computes exactly the same");
            }
            long written = Files.size(dir.resolve(ModelDirectory.WEIGHTS_FILE));
            assertTrue(written < f32Bytes / 3, "int8 weights file " + written + " bytes vs f32 tensors " + f32Bytes);
        }
    }

    /**
     * The int8 model exported in ONNX's QDQ form and run by ONNX Runtime (its own int8 kernels, an
     * independent implementation): same top-1 on every input, logits within 5% of their spread (the two
     * round and requantise differently, e.g. ONNX Runtime's int32 bias). {@code keras}: an NHWC input and a
     * global average pool, exported as [N, H, W, C] + Transpose and a QDQ-wrapped GlobalAveragePool.
     */
    @ParameterizedTest(name = "keras {0}")
    @ValueSource(booleans = {false, true})
    void qdqExportRunsOnOnnxRuntimeLikeTheEngine(boolean keras, @TempDir Path dir) throws Exception {
        var config = keras ? keras(1.0 / 8, List.of(32, 16), 6, 9)
                : new ModelGenerator.Config("vgg16", 1.0 / 8, List.of(32, 16), 6, FlattenOrder.NCHW, 9, 64);
        int n = 8;
        try (LoadedModel f32 = ModelGenerator.generate(config); Arena arena = Arena.ofConfined()) {
            long perImage = f32.spec().input().elements();
            MemorySegment inputs = TestRuns.images(arena, perImage, 2 * n, 4);
            LoadedModel int8;
            try (InputSet set = InputSet.of(inputs, n, f32.spec())) {
                int8 = Quantizer.quantize(f32, set, MAX, line -> { });
            }
            // Without VNNI, ONNX Runtime's u8×s8 kernels saturate s16 sums just like oneDNN's (its docs advise
            // reduced-range weights there), so both run the model adapted for such CPUs.
            var model = Dnnl.hasInt8Vnni() ? new DenseInF32(int8.spec(), int8.weights()) : DenseInF32.of(int8.spec(), int8.weights(), arena);
            Path onnx = dir.resolve("int8.onnx");
            OnnxExporter.write(onnx, model.spec(), model.weights());
            float[] heldOut = inputs.asSlice(n * perImage * Float.BYTES).toArray(JAVA_FLOAT);
            float[][] ortLogits;
            var env = OrtEnvironment.getEnvironment();
            try (var options = new OrtSession.SessionOptions(); var ort = env.createSession(onnx.toString(), options);
                 var tensor = OnnxTensor.createTensor(env, FloatBuffer.wrap(heldOut), f32.spec().input().dims(n));
                 var result = ort.run(Map.of("input", tensor))) {
                ortLogits = (float[][]) result.get("logits").orElseThrow().getValue();
            }
            try (int8; Model engine = Model.of(new LoadedModel(model.spec(), new Weights(Arena.ofShared(), model.weights().tensors())));
                 Session session = engine.newSession(2)) {
                Result r = session.run(inputs.asSlice(n * perImage * Float.BYTES), n);
                for (int i = 0; i < n; i++) {
                    double spread = 0;
                    for (float v : ortLogits[i]) spread = Math.max(spread, Math.abs(v));
                    double diff = Fixtures.maxAbsDiff(r.logits(i), ortLogits[i]);
                    assertEquals(argmax(ortLogits[i]), r.argmax(i), "top-1 of input " + i);
                    System.out.printf("int8 QDQ (keras %s) input %d vs ONNX Runtime: max abs diff %.3g at logit scale %.3g%n",
                            keras, i, diff, spread);
                    assertTrue(diff <= 0.05 * spread, "input " + i + ": logits differ by " + diff + " (spread " + spread + ")");
                }
            }
        }
    }

    /**
     * Calibration inputs come in the model's layout: for an NHWC model, photos are preprocessed interleaved
     * (the NCHW twin's planes, transposed), an (n, H, W, C) tensor file is taken as it is, and an (n, C, H, W)
     * one is skipped with the shape the model wants. The int8 model calibrated on them gives the f32
     * model's probabilities within 0.1 on those inputs.
     */
    @Test
    void calibrationFillsTheModelsInputLayout(@TempDir Path dir) throws IOException {
        try (LoadedModel nhwc = ModelGenerator.generate(keras(1.0 / 16, List.of(16), 3, 2));
             LoadedModel nchw = ModelGenerator.generate(new ModelGenerator.Config("vgg16", 1.0 / 16, List.of(16), 3,
                     FlattenOrder.NHWC, 2, 64, ModelGenerator.Pool.GAP, InputLayout.NCHW));
             Arena arena = Arena.ofConfined()) {
            long perImage = nhwc.spec().input().elements();
            MemorySegment tensors = TestRuns.images(arena, perImage, 2, 6);
            Safetensors.write(dir.resolve("a-nhwc.safetensors"), List.of(new Tensor("input", new long[] {2, 64, 64, 3}, tensors)));
            Safetensors.write(dir.resolve("b-nchw.safetensors"), List.of(new Tensor("input", new long[] {2, 3, 64, 64}, tensors)));
            for (String photo : List.of("chelsea.png", "coffee.png")) Files.copy(Fixtures.image(photo), dir.resolve(photo));
            List<String> skipped = new ArrayList<>(), twinSkipped = new ArrayList<>();
            try (InputSet set = InputSet.read(dir, nhwc.spec(), 100, skipped::add);
                 InputSet twin = InputSet.read(dir, nchw.spec(), 100, twinSkipped::add)) {
                assertEquals(4, set.count(), "two tensor rows and two photos");
                assertEquals(1, skipped.size(), skipped.toString());
                assertTrue(skipped.getFirst().contains("b-nchw.safetensors") && skipped.getFirst().contains("(n, 64, 64, 3)"), skipped.getFirst());
                assertTrue(twinSkipped.size() == 1 && twinSkipped.getFirst().contains("a-nhwc.safetensors"), twinSkipped.toString());
                assertEquals(-1, set.slice(0, 2).mismatch(tensors), "the NHWC tensor rows as they are");
                float[] interleaved = set.slice(2, 2).toArray(JAVA_FLOAT), planar = twin.slice(2, 2).toArray(JAVA_FLOAT);
                double diff = 0;
                for (int i = 0; i < 2; i++)
                    for (int c = 0; c < 3; c++)
                        for (int p = 0; p < 64 * 64; p++) {
                            diff = Math.max(diff, Math.abs(interleaved[(i * 64 * 64 + p) * 3 + c] - planar[(i * 3 + c) * 64 * 64 + p]));
                        }
                assertTrue(diff <= 1e-5, "calibration photos: NHWC vs NCHW transposed differ by " + diff);

                try (LoadedModel int8 = Quantizer.quantize(nhwc, set, MAX, line -> { })) {
                    assertEquals(InputLayout.NHWC, int8.spec().input().layout());
                    assertTrue(int8.spec().layers().contains(new Layer.GlobalAveragePool()));
                    try (Model f = Model.of(new LoadedModel(nhwc.spec(), new Weights(Arena.ofShared(), nhwc.weights().tensors())));
                         Model q = Model.of(new LoadedModel(int8.spec(), new Weights(Arena.ofShared(), int8.weights().tensors())));
                         Session fs = f.newSession(2); Session qs = q.newSession(2)) {
                        Result want = fs.run(set.slice(0, 4), 4), got = qs.run(set.slice(0, 4), 4);
                        for (int i = 0; i < 4; i++) {
                            assertTrue(Fixtures.maxAbsDiff(want.probabilities(i), got.probabilities(i)) < 0.1,
                                    "probabilities of input " + i + " differ by " + Fixtures.maxAbsDiff(want.probabilities(i), got.probabilities(i)));
                        }
                    }
                }
            }
        }
    }

    @Test
    void badCalibrationFoldersGiveClearErrors(@TempDir Path dir) throws IOException {
        var spec = ModelGenerator.generate(new ModelGenerator.Config("vgg16", 1.0 / 16, List.of(8), 2,
                FlattenOrder.NCHW, 1, 32)).spec();
        Path empty = Files.createDirectory(dir.resolve("empty"));
        var e = assertThrows(IllegalArgumentException.class, () -> InputSet.read(empty, spec, 8, s -> { }));
        assertTrue(e.getMessage().contains("holds no images"), e.getMessage());

        e = assertThrows(IllegalArgumentException.class, () -> InputSet.read(dir.resolve("missing"), spec, 8, s -> { }));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());

        Path junk = Files.createDirectory(dir.resolve("junk"));
        Files.writeString(junk.resolve("notes.jpg"), "not a photo");
        Files.write(junk.resolve("broken.safetensors"), new byte[] {1, 2, 3});
        List<String> skipped = new ArrayList<>();
        e = assertThrows(IllegalArgumentException.class, () -> InputSet.read(junk, spec, 8, skipped::add));
        assertTrue(e.getMessage().contains("none of its 2 files could be used"), e.getMessage());
        assertEquals(2, skipped.size(), skipped.toString());
        assertTrue(skipped.stream().anyMatch(s -> s.contains("notes.jpg") && s.contains("not a recognised image")), skipped.toString());
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
