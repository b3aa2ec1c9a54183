package dev.snapscore.engine.format;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.snapscore.engine.Fixtures;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.Result;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.format.onnx.OnnxImporter;
import dev.snapscore.engine.runtime.TestRuns;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.net.URISyntaxException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ONNX files that real exporters write (torch.onnx 1.13; the model zoo's and tf2onnx's layouts; opsets 7–21;
 * see {@code src/test/resources/onnx-exporters/README.md} and {@code src/test/python/make_onnx_fixtures.py}) load
 * and reproduce the exporter's own outputs, survive a round trip through snapscore's format, and the ones snapscore
 * cannot run are refused with a message naming the node and its op.
 */
class RealExporterModelsTest {
    /** max |diff| ≤ RELATIVE × max |reference| + ABSOLUTE: the 1e-4 of the largest output, plus a floor. */
    private static final double RELATIVE = 1e-4, ABSOLUTE = 1e-5;

    /** One manifest entry; {@code normalisation} is null or {channel_order, mean, scale}. */
    record Fixture(String file, String reference, String inputTensor, String inputName, InputLayout layout,
                   boolean dynamicBatch, boolean probabilities, JsonNode normalisation, String refusedNode,
                   String refusedOp) {
        @Override
        public String toString() {
            return file;
        }
    }

    static Path root() {
        try {
            return Path.of(RealExporterModelsTest.class.getResource("/onnx-exporters/manifest.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<Fixture> manifest() {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(root().resolve("manifest.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Fixture> out = new ArrayList<>();
        for (JsonNode f : root.get("fixtures")) {
            JsonNode refusal = f.get("refusal");
            JsonNode normalisation = f.get("normalisation");
            out.add(new Fixture(f.get("file").asText(), f.get("reference").asText(), f.get("input").get("tensor").asText(),
                    f.get("input_name").asText(), InputLayout.valueOf(f.get("input_layout").asText()),
                    f.get("batch").asText().equals("dynamic"), f.get("output").asText().equals("probabilities"),
                    normalisation == null || normalisation.isNull() ? null : normalisation,
                    refusal == null ? null : refusal.get("node").asText(),
                    refusal == null ? null : refusal.get("op").asText()));
        }
        return out;
    }

    static Stream<Fixture> all() {
        return manifest().stream();
    }

    static Stream<Fixture> loading() {
        return manifest().stream().filter(f -> f.refusedNode() == null);
    }

    static Stream<Fixture> refused() {
        return manifest().stream().filter(f -> f.refusedNode() != null);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("loading")
    void loadsAndReproducesTheExportersOutput(Fixture f) {
        try (Weights inputs = Safetensors.read(root().resolve("inputs.safetensors"));
             Weights reference = Safetensors.read(root().resolve(f.reference()));
             Model model = Model.load(root().resolve(f.file()));
             Session session = model.newSession(2)) {
            assertEquals(f.layout(), model.spec().input().layout(), f + ": input layout");
            assertEquals(f.normalisation() != null, OnnxImporter.inspect(root().resolve(f.file())).preprocessBuiltIn(),
                    f + ": the report says whether the preprocessing is the graph's own");
            Tensor input;
            if (f.normalisation() != null) {
                // The normalisation ops leave the graph for the spec's preprocessing; the graph left starts at
                // the first convolution, which the reference's normalised input feeds.
                assertPreprocess(f, model.spec().preprocess());
                input = reference.tensors().get("normalised_input");
            } else {
                input = inputs.tensors().get(f.inputTensor());
            }
            float[] want = Fixtures.floats(reference.tensors().get("output"));
            float[] got = run(session, input, f.dynamicBatch(), f.probabilities());
            assertClose(got, want, f + (f.probabilities() ? " probabilities" : " logits"));
        }
    }

    /** ONNX Runtime on the same files and inputs: the fixtures and their references are what the graphs mean. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("all")
    void onnxRuntimeAgreesWithTheReference(Fixture f) throws OrtException {
        try (Weights inputs = Safetensors.read(root().resolve("inputs.safetensors"));
             Weights reference = Safetensors.read(root().resolve(f.reference()))) {
            Tensor input = inputs.tensors().get(f.inputTensor());
            float[] want = Fixtures.floats(reference.tensors().get("output"));
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
                 OrtSession session = env.createSession(root().resolve(f.file()).toString(), options)) {
                float[] all = Fixtures.floats(input);
                long[] shape = input.shape().clone();
                // A fixed-batch file was exported with batch 1: run it image by image.
                int perRun = f.dynamicBatch() ? (int) shape[0] : 1, perImage = all.length / (int) shape[0];
                shape[0] = perRun;
                List<Float> got = new ArrayList<>();
                for (int first = 0; first < input.dim(0); first += perRun) {
                    float[] chunk = Arrays.copyOfRange(all, first * perImage, (first + perRun) * perImage);
                    try (OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(chunk), shape);
                         OrtSession.Result r = session.run(Map.of(f.inputName(), t))) {
                        for (float[] row : (float[][]) r.get(0).getValue()) for (float v : row) got.add(v);
                    }
                }
                float[] gotArray = new float[got.size()];
                for (int i = 0; i < gotArray.length; i++) gotArray[i] = got.get(i);
                assertClose(gotArray, want, f + " in ONNX Runtime");
            }
        }
    }

    /** {@code snapscore convert}'s library path: the imported model written in our format loads to identical outputs. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("loading")
    void convertsToIdenticalLogits(Fixture f, @TempDir Path dir) throws IOException {
        Path onnx = root().resolve(f.file());
        try (LoadedModel loaded = ModelFormats.read(onnx)) {
            ModelDirectory.write(dir, loaded.spec(), loaded.weights());
        }
        try (Weights inputs = Safetensors.read(root().resolve("inputs.safetensors"));
             Weights reference = Safetensors.read(root().resolve(f.reference()));
             Model fromOnnx = Model.load(onnx, TestRuns.DIRECT);
             Model converted = Model.load(dir, TestRuns.DIRECT);
             Session a = fromOnnx.newSession(2);
             Session b = converted.newSession(2)) {
            assertEquals(fromOnnx.spec().input(), converted.spec().input(), f + ": input");
            assertEquals(fromOnnx.spec().preprocess(), converted.spec().preprocess(), f + ": preprocessing");
            Tensor input = f.normalisation() != null ? reference.tensors().get("normalised_input")
                    : inputs.tensors().get(f.inputTensor());
            assertArrayEquals(run(a, input, f.dynamicBatch(), false), run(b, input, f.dynamicBatch(), false), f + ": logits after convert");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refused")
    void refusalNamesTheNodeAndItsOp(Fixture f) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> {
            try (Model ignored = Model.load(root().resolve(f.file()))) {
                // loading must fail
            }
        }, f.toString());
        String message = e.getMessage();
        assertTrue(message.contains(f.refusedNode()), f + ": message names node " + f.refusedNode() + ": " + message);
        assertTrue(message.contains(f.refusedOp()), f + ": message names op " + f.refusedOp() + ": " + message);
    }

    /** Runs the whole batch at once ({@code together}), or image by image. */
    private static float[] run(Session session, Tensor input, boolean together, boolean probabilities) {
        int n = (int) input.dim(0), perRun = together ? n : 1;
        long bytesPerImage = input.data().byteSize() / n;
        float[][] parts = new float[n / perRun][];
        for (int first = 0; first < n; first += perRun) {
            MemorySegment chunk = input.data().asSlice(first * bytesPerImage, perRun * bytesPerImage);
            Result r = session.run(chunk, perRun);
            parts[first / perRun] = probabilities ? r.probabilities() : r.logits();
        }
        int size = Arrays.stream(parts).mapToInt(p -> p.length).sum(), at = 0;
        float[] out = new float[size];
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    private static void assertPreprocess(Fixture f, Preprocess got) {
        JsonNode want = f.normalisation();
        assertEquals(want.get("channel_order").asText(), got.channelOrder(), f + ": channel order");
        for (int c = 0; c < 3; c++) {
            double mean = want.get("mean").get(c).asDouble(), scale = want.get("scale").get(c).asDouble();
            assertEquals(mean, got.mean()[c], 1e-4 * Math.abs(mean) + 1e-6, f + ": mean of channel " + c);
            assertEquals(scale, got.scale()[c], 1e-4 * Math.abs(scale), f + ": scale of channel " + c);
        }
    }

    private static void assertClose(float[] got, float[] want, String what) {
        double largest = 0;
        for (float v : want) largest = Math.max(largest, Math.abs(v));
        double diff = Fixtures.maxAbsDiff(got, want), tolerance = RELATIVE * largest + ABSOLUTE;
        // Printed for the table (exporter × opset × variant → max diff).
        System.out.printf("%s: max abs diff %.3g, tolerance %.3g%n", what, diff, tolerance);
        assertTrue(diff <= tolerance, what + ": max abs diff " + diff + " > " + tolerance);
    }
}
