package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.engine.Fixtures;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.ModelFormats;
import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.ElementType;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Models whose weights are stored as bf16 ({@code convert --precision bf16}) load and run at every precision. */
class Bf16WeightsTest {
    private static final Lowering DIRECT = new Lowering(CpuCapabilities.detect(), false, Winograd.Rule.NEVER);
    private static final Lowering WINOGRAD = new Lowering(CpuCapabilities.detect(), false, new Winograd.Rule(1, 1));
    private static final Lowering BF16 = new Lowering(CpuCapabilities.detect(), true, Winograd.Rule.NEVER);

    @TempDir
    Path dir;

    /** Hand-worked roundings: exact values, ties to even both ways, carry into the exponent, NaN kept a NaN. */
    @Test
    void narrowingRoundsToNearestEven() {
        float[] values = {1f, Float.intBitsToFloat(0x3F808000), Float.intBitsToFloat(0x3F818000),
                Float.intBitsToFloat(0x3F808001), Float.intBitsToFloat(0x3FFFFFFF), -2.5f, Float.NaN, 0f};
        short[] want = {0x3F80, 0x3F80, 0x3F82, 0x3F81, 0x4000, (short) 0xC020, 0x7FC0, 0};
        try (Arena arena = Arena.ofConfined()) {
            Tensor f32 = new Tensor("t", new long[] {values.length}, arena.allocateFrom(JAVA_FLOAT, values));
            Tensor bf16 = f32.toBf16(arena);
            assertEquals(ElementType.BF16, bf16.type());
            assertArrayEquals(want, bf16.data().toArray(JAVA_SHORT));
            float[] back = bf16.toFloatArray();
            assertEquals(1f, back[0]);
            assertEquals(1.015625f, back[2]); // 0x3F82
            assertEquals(2f, back[4]);
            assertEquals(-2.5f, back[5]);
            assertTrue(Float.isNaN(back[6]));
        }
    }

    /**
     * Against PyTorch's logits for the fixture models' inputs: bf16 weights (8 bits of mantissa) move the logits
     * by under 2% (measured 1.1%: nearly all of full bf16 precision's 1.2%, so the weights' rounding dominates),
     * never to another class, and the weights file halves.
     */
    @Test
    void storedBf16StaysCloseToPyTorch() throws IOException {
        for (String name : Fixtures.MODELS) {
            Path stored = dir.resolve(name);
            try (LoadedModel f32 = ModelFormats.read(Fixtures.model(name))) {
                ModelDirectory.write(stored, f32.spec(), f32.weights(), ElementType.BF16);
            }
            long f32Bytes = Files.size(Fixtures.model(name).resolve(ModelDirectory.WEIGHTS_FILE));
            long bf16Bytes = Files.size(stored.resolve(ModelDirectory.WEIGHTS_FILE));
            assertTrue(bf16Bytes < 0.52 * f32Bytes, name + ": " + bf16Bytes + " bytes stored bf16 against " + f32Bytes);
            try (LoadedModel loaded = ModelFormats.read(stored);
                 Weights io = Safetensors.read(Fixtures.model(name).resolve("io.safetensors"));
                 OneDnnNetwork network = new OneDnnNetwork(loaded.spec(), loaded.weights(), DIRECT);
                 OneDnnExecutor executor = network.newExecutor(2)) {
                for (Tensor t : loaded.weights().tensors().values()) {
                    assertEquals(t.rank() >= 2 ? ElementType.BF16 : ElementType.F32, t.type(), t.name());
                }
                Tensor input = io.tensors().get("input");
                int n = (int) input.dim(0), classes = loaded.spec().classes();
                float[] want = io.tensors().get("logits").toFloatArray();
                float[] got = TestRuns.logits(executor, input.data(), n, classes);
                double error = TestRuns.relativeError(want, got);
                System.out.printf("bf16-stored %s: relative logit error against PyTorch %.5f%n", name, error);
                assertTrue(error > 0 && error < 0.02, name + ": relative logit error " + error);
                for (int i = 0; i < n; i++) assertEquals(TestRuns.argmax(want, i * classes, classes), TestRuns.argmax(got, i * classes, classes));
            }
        }
    }

    /**
     * Widening is exact, so a bf16-stored model computes what an f32 model holding the same rounded values does, bit for
     * bit, whether oneDNN widens (direct convolutions, dense layers) or Java does (Winograd's filter transform).
     */
    @Test
    void storedBf16RunsLikeItsRoundedValuesInF32() throws IOException {
        String name = Fixtures.MODELS[0];
        Path stored = dir.resolve("bf16");
        try (Arena arena = Arena.ofShared(); LoadedModel f32 = ModelFormats.read(Fixtures.model(name))) {
            ModelDirectory.write(stored, f32.spec(), f32.weights(), ElementType.BF16);
            Map<String, Tensor> rounded = new LinkedHashMap<>();
            for (Tensor t : f32.weights().tensors().values()) {
                rounded.put(t.name(), t.rank() >= 2 ? t.toBf16(arena).toF32(arena) : t);
            }
            try (LoadedModel bf16 = ModelFormats.read(stored);
                 Weights io = Safetensors.read(Fixtures.model(name).resolve("io.safetensors"));
                 Weights roundedWeights = new Weights(Arena.ofConfined(), rounded)) { // its values live in arena
                Tensor input = io.tensors().get("input");
                int n = (int) input.dim(0), classes = bf16.spec().classes();
                for (Lowering lowering : new Lowering[] {DIRECT, WINOGRAD}) {
                    assertArrayEquals(run(bf16.spec(), roundedWeights, lowering, input.data(), n, classes),
                            run(bf16.spec(), bf16.weights(), lowering, input.data(), n, classes), "winograd " + (lowering == WINOGRAD));
                }
            }
        }
    }

    /**
     * At bf16 precision oneDNN rounds f32 weights to bf16 itself: storing them bf16 must give the very same plan
     * constants, so the same logits bit for bit (our rounding is oneDNN's).
     */
    @Test
    void bf16PrecisionGivesTheSameLogitsFromEitherStorage() throws IOException {
        assumeTrue(Dnnl.hasBf16(), "this CPU has no bf16 instructions (oneDNN: " + Dnnl.cpuIsaName() + ")");
        String name = Fixtures.MODELS[1];
        Path stored = dir.resolve("bf16");
        try (LoadedModel f32 = ModelFormats.read(Fixtures.model(name))) {
            ModelDirectory.write(stored, f32.spec(), f32.weights(), ElementType.BF16);
            try (LoadedModel bf16 = ModelFormats.read(stored);
                 Weights io = Safetensors.read(Fixtures.model(name).resolve("io.safetensors"))) {
                Tensor input = io.tensors().get("input");
                int n = (int) input.dim(0), classes = f32.spec().classes();
                assertArrayEquals(run(f32.spec(), f32.weights(), BF16, input.data(), n, classes),
                        run(bf16.spec(), bf16.weights(), BF16, input.data(), n, classes));
            }
        }
    }

    private static float[] run(dev.snapscore.engine.spec.ModelSpec spec, Weights weights, Lowering lowering,
                               MemorySegment input, int n, int classes) {
        try (OneDnnNetwork network = new OneDnnNetwork(spec, weights, lowering); OneDnnExecutor executor = network.newExecutor(2)) {
            return TestRuns.logits(executor, input, n, classes);
        }
    }

}
