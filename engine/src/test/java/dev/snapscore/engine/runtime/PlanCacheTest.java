package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.Fixtures;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Precision;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.quantize.InputSet;
import dev.snapscore.engine.quantize.Quantizer;
import dev.snapscore.engine.spec.FlattenOrder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link PlanCache}: a load from the cache runs exactly as the load that wrote it, maps the prepared weights
 * instead of making them, and a corrupt, truncated, foreign or concurrently written file never breaks a load.
 */
class PlanCacheTest {
    private static final Path MINI = Fixtures.model("vgg-mini-nchw");
    private static final int N = 3;
    private static Path int8Model;

    @BeforeAll
    static void quantisedModel(@TempDir Path dir) throws IOException {
        var config = new ModelGenerator.Config("vgg16", 1.0 / 16, List.of(24, 16), 5, FlattenOrder.NCHW, 3, 32);
        try (LoadedModel f32 = ModelGenerator.generate(config); Arena arena = Arena.ofConfined()) {
            MemorySegment inputs = TestRuns.images(arena, f32.spec().input().elements(), 4, 5);
            try (InputSet calibration = InputSet.of(inputs, 4, f32.spec());
                 LoadedModel int8 = Quantizer.quantize(f32, calibration, new Quantizer.Options(Quantizer.Method.MAX, 100, true, 4, 2), l -> { })) {
                int8Model = dir.resolve("int8");
                ModelDirectory.write(int8Model, int8.spec(), int8.weights());
            }
        }
    }

    /** Logits of N images through the model at {@code path}, loaded as {@code options} say; the load's cache report beside. */
    private record Run(float[] logits, PlanCache.Report report) {
    }

    private static Run run(Path path, ModelOptions options) {
        try (Model model = Model.load(path, options.withThreads(2));
             Session session = model.newSession();
             Arena arena = Arena.ofConfined()) {
            MemorySegment input = TestRuns.images(arena, model.spec().input().elements(), N, 42);
            float[] logits = session.run(input, N).logits();
            return new Run(logits, model.planCache());
        }
    }

    private static void assertBitwiseEqual(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), what + ": logit " + i + " " + want[i] + " vs " + got[i]);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"f32", "auto", "bf16", "int8", "onnx"})
    void aCacheHitRunsBitForBitAsTheMissThatWroteIt(String kind, @TempDir Path cache) {
        Path model = switch (kind) {
            case "int8" -> int8Model;
            case "onnx" -> MINI.resolve("model.onnx"); // keyed by the file (and external data files, where it has any)
            default -> MINI;
        };
        ModelOptions options = TestRuns.DIRECT.withCacheDir(cache);
        options = switch (kind) {
            case "auto" -> options.withConvolution(ConvolutionAlgorithm.AUTO);
            case "bf16" -> {
                assumeTrue(Dnnl.hasBf16(), "no bf16 instructions here");
                yield options.withPrecision(Precision.BF16);
            }
            default -> options;
        };
        Run uncached = run(model, options.withCache(false));
        assertNull(uncached.report());

        Run miss = run(model, options);
        assertEquals(0, miss.report().mapped(), "an empty cache maps nothing");
        assertTrue(miss.report().built() > 0 && miss.report().written(), "the miss builds and writes: " + miss.report());
        assertTrue(Files.isRegularFile(miss.report().file()));
        if (kind.equals("auto")) assertEquals(2, miss.report().timed(), "auto times batches 1 and 2 (" + N + " takes 2's choices)");

        Run hit = run(model, options);
        // auto's timing also prepares the direct form of layers that end up Winograd; a hit never asks for those.
        if (!kind.equals("auto")) assertEquals(miss.report().built(), hit.report().mapped(), "every tensor the miss built is mapped: " + hit.report());
        assertTrue(hit.report().mapped() > 0);
        assertEquals(0, hit.report().built(), "nothing rebuilt: " + hit.report());
        assertFalse(hit.report().written(), "nothing to rewrite");
        assertEquals(0, hit.report().timed(), "auto's choices come from the cache");
        assertNull(hit.report().refused());

        if (kind.equals("auto")) {
            // Each uncached load times the layers again and may choose otherwise: only as close as direct and Winograd are.
            double scale = 0;
            for (float v : uncached.logits()) scale = Math.max(scale, Math.abs(v));
            assertTrue(Fixtures.maxAbsDiff(uncached.logits(), miss.logits()) <= 1e-4 * scale, "auto: miss vs no cache");
        } else {
            assertBitwiseEqual(uncached.logits(), miss.logits(), kind + ": miss vs no cache");
        }
        assertBitwiseEqual(miss.logits(), hit.logits(), kind + ": hit vs miss");
    }

    /**
     * auto (the default) times powers of two only, and {@code prepare(8)} times all of them up to 8 at once (as a
     * server does before it listens), so no later batch of up to 8 images, of any size, waits for a timing pass;
     * the next load times nothing.
     */
    /**
     * Auto's choices hold for the threads they were timed on: a session with another thread count than the model's
     * (one single-threaded session per core, as Session's documentation advises for throughput) times for its own,
     * and those choices are cached under that count too.
     */
    @Test
    void aSessionWithOtherThreadsTimesForItsOwn(@TempDir Path cache) {
        ModelOptions options = ModelOptions.defaults().withCacheDir(cache).withThreads(2);
        try (Model model = Model.load(MINI, options); Arena arena = Arena.ofConfined()) {
            assertEquals(1, model.planCache().timed(), "the load times batch 1 on the model's 2 threads");
            MemorySegment input = TestRuns.images(arena, model.spec().input().elements(), 2, 3);
            float[] two, one;
            try (Session s = model.newSession()) {
                s.prepare(2);
                two = s.run(input, 2).logits();
            }
            assertEquals(2, model.planCache().timed(), "batches 1 and 2 on 2 threads");
            try (Session s = model.newSession(1)) {
                s.prepare(2);
                assertEquals(4, model.planCache().timed(), "batches 1 and 2 again, on 1 thread: " + model.planCache());
                one = s.run(input, 2).logits();
            }
            for (int i = 0; i < two.length; i++) {
                assertEquals(two[i], one[i], 1e-4f * Math.max(1f, Math.abs(two[i])), "logit " + i + ": either form computes the same function");
            }
        }
        try (Model again = Model.load(MINI, options); Session s = again.newSession(1)) {
            s.prepare(2);
            assertEquals(0, again.planCache().timed(), "1 thread's choices come from the cache: " + again.planCache());
        }
    }

    @Test
    void prepareTimesEveryBatchSizeUpToItsOwnBeforehand(@TempDir Path cache) {
        ModelOptions options = ModelOptions.defaults().withCacheDir(cache).withThreads(2);
        try (Model model = Model.load(MINI, options); Session session = model.newSession(); Arena arena = Arena.ofConfined()) {
            assertEquals(1, model.planCache().timed(), "the load plans and times batch 1");
            session.prepare(8);
            assertEquals(4, model.planCache().timed(), "batches 1, 2, 4 and 8: " + model.planCache());
            MemorySegment input = TestRuns.images(arena, model.spec().input().elements(), 8, 1);
            for (int n = 1; n <= 8; n++) session.run(input, n);
            assertEquals(4, model.planCache().timed(), "3, 5, 6 and 7 take the choices of 2 and 4");
        }
        try (Model again = Model.load(MINI, options); Session session = again.newSession()) {
            session.prepare(8);
            assertEquals(0, again.planCache().timed(), "every choice comes from the cache: " + again.planCache());
        }
    }

    /** A flipped byte in a tensor: that tensor is rebuilt (the rest still mapped), the file rewritten, results unchanged. */
    @Test
    void aCorruptTensorIsRebuiltAndTheFileRewritten(@TempDir Path cache) throws IOException {
        ModelOptions options = TestRuns.DIRECT.withCacheDir(cache);
        Run miss = run(MINI, options);
        Path file = miss.report().file();
        PlanCache.Header header = header(file);
        PlanCache.Stored victim = header.tensors().stream().max(java.util.Comparator.comparingLong(PlanCache.Stored::bytes)).orElseThrow();
        flipByte(file, victim.offset() + victim.bytes() / 2);

        Run corrupt = run(MINI, options);
        assertEquals(1, corrupt.report().built(), "only the corrupt tensor is rebuilt: " + corrupt.report());
        assertEquals(miss.report().built() - 1, corrupt.report().mapped());
        assertTrue(corrupt.report().written(), "the file is rewritten");
        assertBitwiseEqual(miss.logits(), corrupt.logits(), "after a corrupt tensor");

        Run again = run(MINI, options);
        assertEquals(0, again.report().built(), "the rewritten file is whole: " + again.report());
        assertBitwiseEqual(miss.logits(), again.logits(), "from the rewritten file");
    }

    @Test
    void aCorruptHeaderIsRefusedAndRebuilt(@TempDir Path cache) throws IOException {
        ModelOptions options = TestRuns.DIRECT.withCacheDir(cache);
        Run miss = run(MINI, options);
        flipByte(miss.report().file(), 40); // inside the binary header
        Run corrupt = run(MINI, options);
        assertEquals("corrupt: header checksum mismatch", corrupt.report().refused());
        assertEquals(0, corrupt.report().mapped());
        assertTrue(corrupt.report().written());
        assertBitwiseEqual(miss.logits(), corrupt.logits(), "after a corrupt header");
        assertNull(run(MINI, options).report().refused(), "the rewritten file is accepted");
    }

    @ParameterizedTest(name = "cut to {0} of its size")
    @ValueSource(doubles = {0.0, 0.001, 0.5, 0.999})
    void aTruncatedFileIsRefusedAndRebuilt(double keep, @TempDir Path cache) throws IOException {
        ModelOptions options = TestRuns.DIRECT.withCacheDir(cache);
        Run miss = run(MINI, options);
        Path file = miss.report().file();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate((long) (ch.size() * keep));
        }
        Run cut = run(MINI, options);
        assertNotNull(cut.report().refused());
        assertTrue(cut.report().refused().startsWith("truncated"), cut.report().refused());
        assertEquals(0, cut.report().mapped());
        assertBitwiseEqual(miss.logits(), cut.logits(), "after truncation");
        Run again = run(MINI, options);
        assertEquals(miss.report().built(), again.report().mapped(), "the rebuilt file is whole");
    }

    /** A file at the right name whose key names another CPU (e.g. copied from another machine): refused, rebuilt. */
    @Test
    void aFileForAnotherCpuIsRefusedAndRebuilt(@TempDir Path cache) throws IOException {
        ModelOptions options = TestRuns.DIRECT.withCacheDir(cache);
        Run miss = run(MINI, options);
        Path file = miss.report().file();
        PlanCache.Header h = header(file);
        PlanCache.Key k = h.key();
        rewriteHeader(file, new PlanCache.Header(new PlanCache.Key(k.model(), k.engine(), k.onednn(), "avx10_2_fake",
                k.int8Vnni(), k.bf16(), k.precision(), k.convolution()), h.winograd(), h.tensors()));
        Run foreign = run(MINI, options);
        assertEquals("built for a CPU with avx10_2_fake, not " + Dnnl.cpuIsaName(), foreign.report().refused());
        assertEquals(0, foreign.report().mapped());
        assertBitwiseEqual(miss.logits(), foreign.logits(), "after a foreign file");
        assertEquals(k, header(file).key(), "rewritten with this CPU's key");
    }

    /** Another engine build (a rolling upgrade sharing the folder) has a file of its own, and leaves this one alone. */
    @Test
    void anotherEngineBuildKeepsAFileOfItsOwn(@TempDir Path cache) throws IOException {
        ModelOptions options = TestRuns.DIRECT.withCacheDir(cache);
        Run miss = run(MINI, options);
        PlanCache.Key k = header(miss.report().file()).key();
        PlanCache.Key other = new PlanCache.Key(k.model(), "another build", k.onednn(), k.isa(), k.int8Vnni(), k.bf16(),
                k.precision(), k.convolution());
        try (PlanCache theirs = PlanCache.open(cache, other, Long.MAX_VALUE)) {
            assertNotEquals(miss.report().file(), theirs.report().file());
            assertNull(theirs.report().refused(), "nothing of theirs there yet: " + theirs.report());
        }
        Run hit = run(MINI, options);
        assertEquals(miss.report().file(), hit.report().file());
        assertEquals(0, hit.report().built(), "ours is still whole: " + hit.report());
    }

    /**
     * Four loads at once on an empty cache all build and write; the last rename wins and is whole. A model that mapped
     * the file before it was replaced keeps running from its own mapping.
     */
    @Test
    void concurrentWritersLeaveOneWholeFile(@TempDir Path cache) throws Exception {
        ModelOptions options = ModelOptions.defaults().withCacheDir(cache).withConvolution(ConvolutionAlgorithm.AUTO);
        int writers = 4;
        CyclicBarrier start = new CyclicBarrier(writers);
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        List<Future<Run>> runs = new ArrayList<>();
        try {
            for (int i = 0; i < writers; i++) {
                runs.add(pool.submit((Callable<Run>) () -> {
                    start.await();
                    return run(MINI, options);
                }));
            }
            for (Future<Run> f : runs) assertNull(f.get().report().refused());
        } finally {
            pool.shutdown();
        }
        try (var files = Files.list(cache)) {
            assertEquals(List.of(runs.getFirst().get().report().file()), files.filter(Files::isRegularFile).toList(),
                    "one plan file, no temporary files left");
        }
        Run first = runs.getFirst().get();
        try (Model held = Model.load(MINI, options.withThreads(2)); Session session = held.newSession();
             Arena arena = Arena.ofConfined()) {
            assertEquals(0, held.planCache().built(), "a whole file: " + held.planCache());
            // auto's choices are timed per process, so writers may differ; a hit runs as its own choices say.
            Files.delete(first.report().file());
            Run rewriter = run(MINI, options);
            assertTrue(rewriter.report().written());
            float[] logits = session.run(TestRuns.images(arena, held.spec().input().elements(), N, 42), N).logits();
            assertEquals(N * held.spec().classes(), logits.length);
            for (float v : logits) assertTrue(Float.isFinite(v));
        }
    }

    /**
     * On Linux: a hit's weights are the plan file's pages, not copies. A model of 70 MB of weights (a wide head on a
     * small VGG16) loads from its cache: the plan file's mapping holds the weights resident (its tensors' checksums
     * were read), the model's own weights file is never read, and the process's anonymous memory grows by a fraction
     * of the weights' size, where the miss that wrote the cache grew by about their size (its reordered copies).
     */
    @Test
    void aHitMapsTheWeightsInsteadOfCopyingThem(@TempDir Path tmp) throws IOException {
        assumeTrue(Files.isReadable(Path.of("/proc/self/smaps")), "needs Linux's /proc/self/smaps");
        Path dir = tmp.resolve("model");
        var config = new ModelGenerator.Config("vgg16", 0.25, List.of(4096, 4096), 5, FlattenOrder.NCHW, 9, 32);
        try (LoadedModel m = ModelGenerator.generate(config)) {
            ModelDirectory.write(dir, m.spec(), m.weights());
        }
        Path weightsFile = dir.resolve(ModelDirectory.WEIGHTS_FILE);
        long weightKb = Files.size(weightsFile) / 1024;
        ModelOptions options = ModelOptions.defaults().withCacheDir(tmp.resolve("cache")).withThreads(2);
        long before = statusKb("RssAnon");
        Path planFile;
        long missGrowth;
        try (Model miss = Model.load(dir, options)) {
            missGrowth = statusKb("RssAnon") - before;
            planFile = miss.planCache().file();
        }
        before = statusKb("RssAnon");
        try (Model hit = Model.load(dir, options)) {
            long hitGrowth = statusKb("RssAnon") - before;
            long planKb = residentKb(planFile), sourceKb = residentKb(weightsFile);
            System.out.printf("weights %d kB; miss: anonymous +%d kB; hit: anonymous +%d kB, plan file resident %d kB, weights file %d kB%n",
                    weightKb, missGrowth, hitGrowth, planKb, sourceKb);
            assertEquals(0, hit.planCache().built());
            assertTrue(planKb >= 0.95 * weightKb, "the plan file's mapping holds " + planKb + " of " + weightKb + " kB");
            assertTrue(sourceKb <= 256, "the model's weights file is not read on a hit: " + sourceKb + " kB resident");
            assertTrue(missGrowth >= 0.8 * weightKb, "the miss made copies: +" + missGrowth + " kB");
            assertTrue(hitGrowth <= 0.25 * weightKb, "the hit copied: +" + hitGrowth + " kB of anonymous memory");
        }
    }

    /** A field of /proc/self/status, in kB. */
    private static long statusKb(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
        }
        throw new IllegalStateException("no " + field + " in /proc/self/status");
    }

    /** Rss of every mapping of {@code file} in /proc/self/smaps, in kB. */
    private static long residentKb(Path file) throws IOException {
        String path = file.toRealPath().toString();
        long kb = 0;
        boolean inside = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 5 && f[0].matches("[0-9a-f]+-[0-9a-f]+")) {
                inside = f.length >= 6 && line.endsWith(" " + path);
            } else if (inside && line.startsWith("Rss:")) {
                kb += Long.parseLong(f[1]);
            }
        }
        return kb;
    }

    static PlanCache.Header header(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int length = b.getInt(12);
        return PlanCache.parseHeader(b.array(), 16, length);
    }

    /** Replaces the header (which must fit where the old one was) and its checksum, leaving the tensors where they are. */
    static void rewriteHeader(Path file, PlanCache.Header header) throws IOException {
        byte[] json = PlanCache.headerBytes(header);
        ByteBuffer head = ByteBuffer.allocate(16 + json.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        head.put(PlanCache.MAGIC.getBytes(StandardCharsets.ISO_8859_1)).putInt(1).putInt(json.length).put(json);
        CRC32C crc = new CRC32C();
        crc.update(head.array(), 0, head.position());
        head.putInt((int) crc.getValue()).flip();
        assertTrue(16 + json.length + 4 <= header.tensors().getFirst().offset(), "the new header fits");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(head, 0);
        }
    }

    private static void flipByte(Path file, long at) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(at);
            int v = f.read();
            f.seek(at);
            f.write(v ^ 0x5a);
        }
    }
}
