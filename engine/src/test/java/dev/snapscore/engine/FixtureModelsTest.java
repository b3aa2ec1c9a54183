package dev.snapscore.engine;

import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Preprocessor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Both fixture models, loaded from ONNX and from snapscore's directory format, against ONNX Runtime's
 * reference outputs computed outside this project.
 */
class FixtureModelsTest {

    static Stream<Arguments> modelsAndFormats() {
        return Arrays.stream(Fixtures.MODELS).flatMap(m -> Stream.of(
                Arguments.of(m, Fixtures.model(m).resolve("model.onnx")),
                Arguments.of(m, Fixtures.model(m))));
    }

    @ParameterizedTest(name = "{0} from {1}")
    @MethodSource("modelsAndFormats")
    void logitsAndProbabilitiesMatchOnnxRuntime(String name, Path modelPath) {
        try (Weights io = Safetensors.read(Fixtures.model(name).resolve("io.safetensors"));
             Model model = Model.load(modelPath);
             Session session = model.newSession()) {
            Tensor input = io.get("input", io.tensors().get("input").shape());
            int n = (int) input.dim(0);
            float[] wantLogits = Fixtures.floats(io.tensors().get("logits"));
            float[] wantProbs = Fixtures.floats(io.tensors().get("probs"));
            int classes = model.spec().classes();

            // All samples at once, then in odd-sized chunks: every batch size must agree.
            Result all = session.run(input.data(), n);
            assertClose(all.logits(), wantLogits, 1e-3, name + " logits");
            assertClose(all.probabilities(), wantProbs, 1e-4, name + " probabilities");
            for (int i = 0; i < n; i++) {
                assertEquals(argmax(wantProbs, i, classes), all.argmax(i), name + " top-1 of sample " + i);
            }
            long perImage = model.spec().input().elements() * Float.BYTES;
            for (int first = 0; first < n; first += 3) {
                int k = Math.min(3, n - first);
                MemorySegment chunk = input.data().asSlice(first * perImage, k * perImage);
                Result r = session.run(chunk, k);
                float[] want = Arrays.copyOfRange(wantLogits, first * classes, (first + k) * classes);
                assertClose(r.logits(), want, 1e-3, name + " logits of samples " + first + ".." + (first + k - 1));
            }
        }
    }

    /** Decode → preprocess → infer on a real photo, against OpenCV-Python + ONNX Runtime. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("modelNames")
    void astronautPhotoEndToEndMatchesReference(String name) {
        try (Weights io = Safetensors.read(Fixtures.model(name).resolve("io.safetensors"));
             Model model = Model.load(Fixtures.model(name));
             Session session = model.newSession()) {
            List<Prediction> p = session.score(List.of(Fixtures.image("astronaut.png")));
            float[] wantProbs = Fixtures.floats(io.tensors().get("image_probs"));
            float[] wantLogits = Fixtures.floats(io.tensors().get("image_logits"));
            assertEquals(1, p.size());
            assertClose(p.getFirst().probabilities(), wantProbs, 1e-3, name + " astronaut probabilities");
            assertEquals(argmax(wantLogits, 0, wantLogits.length), p.getFirst().labelIndex(), name + " astronaut top-1");
            // Logits themselves, through the same preprocessing, within 1e-2.
            try (Arena arena = Arena.ofConfined();
                 var bgr = ImageDecoder.withDefaults().read(Fixtures.image("astronaut.png"), DecodeOptions.EXACT, null, null).bgr()) {
                MemorySegment batch = arena.allocate(model.spec().input().elements() * Float.BYTES);
                new Preprocessor(model.spec().input(), model.spec().preprocess()).write(bgr, batch, 0);
                assertClose(session.run(batch, 1).logits(), wantLogits, 1e-2, name + " astronaut logits");
            }
        }
    }

    static Stream<String> modelNames() {
        return Arrays.stream(Fixtures.MODELS);
    }

    private static void assertClose(float[] got, float[] want, double tolerance, String what) {
        double diff = Fixtures.maxAbsDiff(got, want);
        assertTrue(diff <= tolerance, what + ": max abs diff " + diff + " > " + tolerance);
    }

    private static int argmax(float[] rows, int row, int classes) {
        int best = 0;
        for (int c = 1; c < classes; c++) if (rows[row * classes + c] > rows[row * classes + best]) best = c;
        return best;
    }
}
