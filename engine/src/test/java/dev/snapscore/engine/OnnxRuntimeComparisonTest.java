package dev.snapscore.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.format.OnnxExporter;
import dev.snapscore.engine.spec.FlattenOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The engine against ONNX Runtime run in the same test on the same ONNX file and fresh random inputs. */
class OnnxRuntimeComparisonTest {

    @Test
    void fixtureModelsAgreeWithOnnxRuntimeOnRandomInputs() throws OrtException {
        for (String name : Fixtures.MODELS) {
            Path onnx = Fixtures.model(name).resolve("model.onnx");
            float[] input = SessionTest.randomImages(42, 2, 3 * 224 * 224);
            float[] want = onnxRuntimeLogits(onnx, input, new long[] {2, 3, 224, 224});
            try (Model model = Model.load(onnx); Session s = model.newSession()) {
                float[] got = s.run(FloatBuffer.wrap(input), 2).logits();
                double diff = Fixtures.maxAbsDiff(got, want);
                assertTrue(diff <= 1e-3, name + ": max abs diff vs ONNX Runtime " + diff);
            }
        }
    }

    /** A generated VGG16 at 1/8 width on 32x32 inputs, both flatten orders, batch sizes 1 and 5. */
    @Test
    void generatedModelsAgreeWithOnnxRuntime(@TempDir Path dir) throws Exception {
        for (FlattenOrder order : FlattenOrder.values()) {
            var config = new ModelGenerator.Config("vgg16", 0.125, List.of(64, 32), 7, order, 11, 32);
            Path onnx = dir.resolve(order + ".onnx");
            try (LoadedModel generated = ModelGenerator.generate(config)) {
                OnnxExporter.write(onnx, generated.spec(), generated.weights());
            }
            try (Model model = Model.load(onnx); Session s = model.newSession()) {
                for (int n : new int[] {1, 5}) {
                    float[] input = SessionTest.randomImages(n, n, 3 * 32 * 32);
                    float[] want = onnxRuntimeLogits(onnx, input, new long[] {n, 3, 32, 32});
                    float[] got = s.run(FloatBuffer.wrap(input), n).logits();
                    double spread = 0;
                    for (float v : want) spread = Math.max(spread, Math.abs(v));
                    assertTrue(spread > 1e-3, "logits should not vanish with He-scaled weights: " + spread);
                    double diff = Fixtures.maxAbsDiff(got, want);
                    assertTrue(diff <= 1e-3 * Math.max(1, spread), order + " batch " + n + ": max abs diff " + diff);
                }
            }
        }
    }

    static float[] onnxRuntimeLogits(Path onnx, float[] input, long[] shape) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
             OrtSession session = env.createSession(onnx.toString(), options);
             OnnxTensor tensor = OnnxTensor.createTensor(env, FloatBuffer.wrap(input), shape);
             OrtSession.Result result = session.run(Map.of(session.getInputNames().iterator().next(), tensor))) {
            float[][] logits = (float[][]) result.get("logits").orElseThrow().getValue();
            float[] flat = new float[logits.length * logits[0].length];
            for (int i = 0; i < logits.length; i++) System.arraycopy(logits[i], 0, flat, i * logits[0].length, logits[0].length);
            return flat;
        }
    }
}
