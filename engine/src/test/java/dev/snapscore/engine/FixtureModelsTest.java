package dev.snapscore.engine;

import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
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
