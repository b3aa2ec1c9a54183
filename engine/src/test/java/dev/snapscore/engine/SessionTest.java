package dev.snapscore.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Session behaviour: concurrency, argument checks, lifetimes. */
class SessionTest {
    private static final int IMAGE = 3 * 224 * 224;
    private static Model model;
    private static float[] inputs;          // 6 images
    private static float[][] singleThreaded; // logits per image, one at a time on one thread

    @BeforeAll
    static void load() {
        model = Model.load(Fixtures.model("vgg-mini-nchw"));
        inputs = randomImages(7, 6, IMAGE);
        singleThreaded = new float[6][];
        try (Session s = model.newSession(1)) {
            for (int i = 0; i < 6; i++) singleThreaded[i] = s.run(image(i), 1).logits();
        }
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** Pixel-like values, as preprocessing gives them (roughly -124..152). */
    static float[] randomImages(long seed, int n, int perImage) {
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        float[] x = new float[n * perImage];
        for (int i = 0; i < x.length; i++) x[i] = (float) (random.nextDouble(256) - 120);
        return x;
    }

    private static FloatBuffer image(int i) {
        return FloatBuffer.wrap(inputs, i * IMAGE, IMAGE).slice();
    }

    @Test
    void oneSessionSharedByEightThreadsGivesSingleThreadedResults() throws Exception {
        try (Session shared = model.newSession(1)) {
            assertAllThreadsAgree(i -> shared.run(image(i), 1).logits(), 0f);
        }
    }

    @Test
    void sessionPerThreadGivesSingleThreadedResults() throws Exception {
        ThreadLocal<Session> sessions = ThreadLocal.withInitial(() -> model.newSession(1));
        List<Session> opened = java.util.Collections.synchronizedList(new ArrayList<>());
        try {
            assertAllThreadsAgree(i -> {
                Session s = sessions.get();
                opened.add(s);
                return s.run(image(i), 1).logits();
            }, 0f);
        } finally {
            opened.forEach(Session::close);
        }
    }

    @Test
    void batchesAndThreadCountsAgreeWithSingleImages() {
        try (Session s = model.newSession(2)) {
            float[] all = s.run(FloatBuffer.wrap(inputs), 6).logits();
            for (int i = 0; i < 6; i++) {
                float[] row = java.util.Arrays.copyOfRange(all, i * 10, i * 10 + 10);
                // Different batch and thread counts change summation order: equal to float rounding only.
                assertArrayEquals(singleThreaded[i], row, 1e-4f, "image " + i);
            }
        }
    }

    private interface Job {
        float[] logits(int image) throws Exception;
    }

    private static void assertAllThreadsAgree(Job job, float tolerance) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int offset = t;
                futures.add(pool.submit(() -> {
                    for (int k = 0; k < 12; k++) {
                        int i = (offset + k) % 6;
                        assertArrayEquals(singleThreaded[i], job.logits(i), tolerance, "image " + i);
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) f.get();
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void inputsOfTheWrongSizeOrBatchAreRejectedBeforeAnyNativeCall() {
        try (Session s = model.newSession()) {
            var small = assertThrows(IllegalArgumentException.class, () -> s.run(FloatBuffer.wrap(new float[IMAGE - 1]), 1));
            assertTrue(small.getMessage().contains("need"), small.getMessage());
            assertThrows(IllegalArgumentException.class, () -> s.run(FloatBuffer.wrap(new float[IMAGE]), 2));
            assertThrows(IllegalArgumentException.class, () -> s.run(FloatBuffer.wrap(new float[IMAGE]), 0));
            assertThrows(IllegalArgumentException.class, () -> s.run(FloatBuffer.wrap(new float[IMAGE]), -1));
            assertThrows(IllegalArgumentException.class, () -> s.run(FloatBuffer.wrap(new float[IMAGE]), 100_000));
        }
    }

    @Test
    void unalignedAndHeapSegmentsAreAccepted() {
        try (Arena arena = Arena.ofConfined(); Session s = model.newSession(1)) {
            MemorySegment odd = arena.allocate(IMAGE * 4L + 1).asSlice(1);
            MemorySegment.copy(inputs, 0, odd, java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 0, IMAGE);
            assertArrayEquals(singleThreaded[0], s.run(odd, 1).logits(), 0f);
            assertArrayEquals(singleThreaded[0], s.run(MemorySegment.ofArray(java.util.Arrays.copyOf(inputs, IMAGE)), 1).logits(), 0f);
        }
    }

    @Test
    void closedSessionsAndModelsRefuseToRun(@TempDir Path dir) {
        Session s = model.newSession();
        s.close();
        s.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> s.run(image(0), 1));

        Model other = Model.load(Fixtures.model("vgg-mini-nhwc"));
        Session open = other.newSession();
        other.close(); // closes its sessions too
        assertThrows(IllegalStateException.class, () -> open.run(image(0), 1));
        assertThrows(IllegalStateException.class, other::newSession);
    }

    @Test
    void missingAndEmptyModelFilesAreModelFormatErrors(@TempDir Path dir) throws Exception {
        var missing = assertThrows(ModelFormatException.class, () -> Model.load(dir.resolve("nope.onnx")));
        assertTrue(missing.getMessage().contains("nope.onnx"), missing.getMessage());
        Path empty = Files.createFile(dir.resolve("empty.onnx"));
        assertThrows(ModelFormatException.class, () -> Model.load(empty));
        Path emptyDir = Files.createDirectory(dir.resolve("empty-dir"));
        assertThrows(ModelFormatException.class, () -> Model.load(emptyDir));
    }
}
