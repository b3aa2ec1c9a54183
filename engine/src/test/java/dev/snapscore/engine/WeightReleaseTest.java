package dev.snapscore.engine;

import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.onnx.OnnxImporter;
import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.runtime.OneDnnExecutor;
import dev.snapscore.engine.runtime.OneDnnNetwork;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link Weights#release}: mapped weights leave the resident set once reordered, yet keep their values for
 * later reorders; weights in ordinary memory are never touched.
 */
class WeightReleaseTest {

    /**
     * A second network compiled over the same, already released, mapped weights reorders every tensor again
     * from pages that must fault back from the file; its logits must still be ONNX Runtime's.
     */
    @Test
    void networkBuiltFromReleasedMappedWeightsMatchesOnnxRuntime() {
        Path dir = Fixtures.model("vgg-mini-nchw");
        try (Weights io = Safetensors.read(dir.resolve("io.safetensors"));
             LoadedModel loaded = ModelDirectory.read(dir)) {
            Tensor input = io.tensors().get("input");
            int n = (int) input.dim(0), classes = loaded.spec().classes();
            float[] want = Fixtures.floats(io.tensors().get("logits"));
            for (int round = 0; round < 2; round++) {
                // Compiling batch 1 reorders every weight and releases its source.
                try (OneDnnNetwork network = new OneDnnNetwork(loaded.spec(), loaded.weights());
                     OneDnnExecutor executor = network.newExecutor(2)) {
                    float[] logits = new float[n * classes], probs = new float[n * classes];
                    executor.run(input.data(), n, logits, probs);
                    double diff = Fixtures.maxAbsDiff(logits, want);
                    assertTrue(diff <= 1e-3, "round " + round + ": max abs diff from ONNX Runtime " + diff);
                }
            }
        }
    }

    /** On Linux: a mapped tensor's pages leave the resident set, and its values read back unchanged. */
    @Test
    void releasingAMappedTensorDropsItsResidentPagesAndKeepsItsValues(@TempDir Path tmp) throws IOException {
        assumeTrue(Files.isReadable(Path.of("/proc/self/smaps")), "needs Linux's /proc/self/smaps");
        int floats = 16 << 20; // 64 MB
        Path file = tmp.resolve("big.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(JAVA_FLOAT, floats);
            for (int i = 0; i < floats; i++) data.setAtIndex(JAVA_FLOAT, i, i * 0.25f);
            Safetensors.write(file, List.of(new Tensor("big", new long[] {floats}, data)));
        }
        try (Weights weights = Safetensors.read(file)) {
            Tensor t = weights.get("big", floats);
            MemorySegment data = t.data();
            float checksum = 0;
            for (long i = 0; i < floats; i += 1024) checksum += data.get(JAVA_FLOAT_UNALIGNED, i * 4);
            long before = residentKb(data);
            assertTrue(before >= 60 << 10, "touched 64 MB mapping holds only " + before + " kB");

            weights.release(t);
            long after = residentKb(data);
            assertTrue(after <= 4 << 10, "after release the mapping still holds " + after + " of " + before + " kB");

            for (int i : new int[] {0, 1, 12345, floats / 2, floats - 1}) {
                assertEquals(i * 0.25f, data.get(JAVA_FLOAT_UNALIGNED, i * 4L), "element " + i);
            }
            float again = 0;
            for (long i = 0; i < floats; i += 1024) again += data.get(JAVA_FLOAT_UNALIGNED, i * 4);
            assertEquals(checksum, again);
        }
    }

    /** Imported ONNX weights live in ordinary memory, where dropping pages would zero them: release is a no-op. */
    @Test
    void releaseLeavesWeightsInOrdinaryMemoryAlone() {
        try (LoadedModel onnx = OnnxImporter.read(Fixtures.model("vgg-mini-nchw").resolve("model.onnx"))) {
            Weights weights = onnx.weights();
            Map<String, byte[]> copies = new HashMap<>();
            for (Tensor t : weights.tensors().values()) copies.put(t.name(), t.data().toArray(JAVA_BYTE));
            for (Tensor t : weights.tensors().values()) weights.release(t);
            for (Tensor t : weights.tensors().values()) {
                byte[] want = copies.get(t.name());
                boolean nonZero = false;
                for (byte v : want) nonZero |= v != 0;
                assertTrue(nonZero, t.name() + " is all zero, so the test would prove nothing");
                assertArrayEquals(want, t.data().toArray(JAVA_BYTE), t.name());
            }
        }
    }

    @Test
    void releaseRefusesAnotherModelsTensor() {
        Path dir = Fixtures.model("vgg-mini-nchw");
        try (Weights a = Safetensors.read(dir.resolve("weights.safetensors"));
             Weights b = Safetensors.read(dir.resolve("weights.safetensors"))) {
            Tensor foreign = b.tensors().values().iterator().next();
            assertThrows(IllegalArgumentException.class, () -> a.release(foreign));
        }
    }

    /** Rss of the mapping in /proc/self/smaps that holds {@code segment}'s first byte, in kB. */
    private static long residentKb(MemorySegment segment) throws IOException {
        long address = segment.address();
        boolean inside = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            int dash = line.indexOf('-');
            int space = line.indexOf(' ');
            if (dash > 0 && space > dash && line.substring(0, dash).matches("[0-9a-f]+")) {
                long start = Long.parseUnsignedLong(line.substring(0, dash), 16);
                long end = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                inside = Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(address, end) < 0;
            } else if (inside && line.startsWith("Rss:")) {
                return Long.parseLong(line.substring(4).trim().split("\\s+")[0]);
            }
        }
        throw new IllegalStateException("no mapping holds address " + Long.toHexString(address));
    }
}
