package dev.snapscore.engine.runtime;

import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.Fixtures;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Session;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link PlanCachePruner} through real loads: a write removes plan files and memos unused for 30 days, the least
 * recently used plans over the limit (never the file just written) and a killed writer's temporary files; a hit
 * records its use at most hourly; a read removes nothing; a model keeps running from a plan file removed under it.
 */
class PlanCachePrunerTest {
    private static final Path MINI = Fixtures.model("vgg-mini-nchw");
    private static final ModelOptions DIRECT = TestRuns.DIRECT.withThreads(2);
    private static final ModelOptions WINOGRAD = DIRECT.withConvolution(ConvolutionAlgorithm.WINOGRAD);

    /** One load of MINI and one image through it: the logits, how the load used its cache, what it printed on stderr. */
    private record Load(float[] logits, PlanCache.Report report, String err) {
    }

    private static Load load(ModelOptions options) {
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, UTF_8));
        try (Model model = Model.load(MINI, options); Session session = model.newSession(); Arena arena = Arena.ofConfined()) {
            float[] logits = session.run(TestRuns.images(arena, model.spec().input().elements(), 1, 42), 1).logits();
            return new Load(logits, model.planCache(), err.toString(UTF_8));
        } finally {
            System.setErr(saved);
        }
    }

    /** A file of {@code kib} KiB last used {@code age} ago. */
    private static Path file(Path dir, String name, int kib, Duration age) throws IOException {
        Files.createDirectories(dir);
        Path f = Files.write(dir.resolve(name), new byte[kib * 1024]);
        Files.setLastModifiedTime(f, FileTime.from(Instant.now().minus(age)));
        return f;
    }

    private static Path plan(Path dir, int id, int kib, Duration age) throws IOException {
        return file(dir, String.format("%08x-avx2-f32-direct.plan", id), kib, age);
    }

    @Test
    void aWriteRemovesPlansUnusedForThirtyDaysAndAReadRemovesNothing(@TempDir Path cache) throws IOException {
        Path old = plan(cache, 1, 4, Duration.ofDays(31)), recent = plan(cache, 2, 4, Duration.ofDays(29));
        Load miss = load(DIRECT.withCacheDir(cache));
        assertTrue(miss.report().written());
        assertFalse(Files.exists(old));
        assertTrue(miss.err().contains("snapscore: plan cache: removed " + old + " (unused for 31 days)"), miss.err());
        assertTrue(Files.exists(recent), "used 29 days ago");
        assertTrue(Files.exists(miss.report().file()));

        Files.setLastModifiedTime(recent, FileTime.from(Instant.now().minus(Duration.ofDays(40))));
        Load hit = load(DIRECT.withCacheDir(cache));
        assertFalse(hit.report().written());
        assertTrue(Files.exists(recent), "a load that writes nothing removes nothing");
        assertFalse(hit.err().contains("removed"), hit.err());
    }

    @Test
    void overTheLimitTheLeastRecentlyUsedGoFirstAndNeverTheFileJustWritten(@TempDir Path cache) throws IOException {
        Path written = load(DIRECT.withCacheDir(cache)).report().file();
        long size = Files.size(written);
        Files.delete(written);
        Path a = plan(cache, 1, 100, Duration.ofDays(3)), b = plan(cache, 2, 100, Duration.ofDays(2)), c = plan(cache, 3, 100, Duration.ofDays(1));
        long limit = size + 150 * 1024; // the new file and one of the others
        Load miss = load(DIRECT.withCacheDir(cache).withCacheLimit(limit));
        assertEquals(written, miss.report().file());
        assertEquals(size, Files.size(written));
        assertFalse(Files.exists(a));
        assertFalse(Files.exists(b));
        assertTrue(Files.exists(c), "the most recently used fits under the limit beside the new file");
        String over = " (over the " + PlanCachePruner.size(limit) + " limit)";
        int removedA = miss.err().indexOf("snapscore: plan cache: removed " + a + over), removedB = miss.err().indexOf("removed " + b + over);
        assertTrue(removedA >= 0 && removedB > removedA, "the oldest first: " + miss.err());

        // A limit below the new file alone: every other plan goes, the new one stays.
        Load winograd = load(WINOGRAD.withCacheDir(cache).withCacheLimit(1));
        assertTrue(winograd.report().written());
        assertEquals(List.of(winograd.report().file()), plans(cache));
        assertTrue(winograd.err().contains("removed " + written + " (over the 1 B limit)"), winograd.err());
    }

    @Test
    void aHitRecordsItsUseAtMostHourly(@TempDir Path cache) throws IOException {
        Path file = load(DIRECT.withCacheDir(cache)).report().file();
        Files.setLastModifiedTime(file, FileTime.from(Instant.now().minus(Duration.ofHours(2))));
        Instant before = Instant.now();
        load(DIRECT.withCacheDir(cache));
        Instant used = Files.getLastModifiedTime(file).toInstant();
        assertFalse(used.isBefore(before.minusMillis(1)) || used.isAfter(Instant.now()), "stamped by the hit: " + used + ", load began " + before);

        FileTime recently = FileTime.from(Instant.now().minus(Duration.ofMinutes(30)));
        Files.setLastModifiedTime(file, recently);
        assertEquals(0, load(DIRECT.withCacheDir(cache)).report().built());
        assertEquals(recently.toMillis(), Files.getLastModifiedTime(file).toMillis(), "used within the hour: not stamped again");
    }

    @Test
    void aKilledWritersTemporaryFilesGoAfterAnHourAndOtherFilesStay(@TempDir Path cache) throws IOException {
        Path stale = file(cache, ".00000001-avx2-f32-direct.plan123456.part", 10, Duration.ofHours(2));
        Path fresh = file(cache, ".00000001-avx2-f32-direct.plan654321.part", 10, Duration.ofMinutes(10));
        Path staleMemo = file(cache.resolve(PlanCache.HASHES), ".0badf00d.sha256987.part", 1, Duration.ofHours(2));
        Path notOurs = file(cache, "notes.txt", 1, Duration.ofDays(90));
        Path notOursEither = file(cache, "old.plan", 1, Duration.ofDays(90));
        Load miss = load(DIRECT.withCacheDir(cache));
        assertFalse(Files.exists(stale));
        assertFalse(Files.exists(staleMemo));
        assertTrue(miss.err().contains("removed " + stale + " (an unfinished write, 2 hours old)"), miss.err());
        assertTrue(Files.exists(fresh), "perhaps another process writing now");
        assertTrue(Files.exists(notOurs) && Files.exists(notOursEither), "a --cache-dir may hold files that are not the cache's");
    }

    @Test
    void memosUnusedForThirtyDaysGoAndTheLoadedModelsAreKept(@TempDir Path cache) throws IOException {
        load(DIRECT.withCacheDir(cache));
        Path hashes = cache.resolve(PlanCache.HASHES);
        List<Path> memos = regularFiles(hashes);
        long hashed = regularFiles(MINI).stream().map(f -> f.getFileName().toString())
                .filter(n -> n.equals("spec.json") || n.endsWith(".safetensors")).count();
        // One per file of the model; the engine's code has one per jar it came from, none from a classes folder.
        assertEquals(hashed, memos.stream().filter(m -> m.toString().endsWith(".sha256")).count(), "one per file of the model: " + memos);
        for (Path m : memos) Files.setLastModifiedTime(m, FileTime.from(Instant.now().minus(Duration.ofDays(40))));
        Path foreign = file(hashes, "0badf00d.sha256", 1, Duration.ofDays(40));
        Path oldEngine = file(hashes, "0badf00e.classes-engine", 1, Duration.ofDays(40));
        Path olderEngine = file(hashes, "0badf00f.classes", 1, Duration.ofDays(40));

        Load winograd = load(WINOGRAD.withCacheDir(cache)); // another plan file: a write
        assertTrue(winograd.report().written());
        for (Path gone : List.of(foreign, oldEngine, olderEngine)) {
            assertFalse(Files.exists(gone), gone + " removed");
            assertTrue(winograd.err().contains("removed " + gone + " (unused for 40 days)"), winograd.err());
        }
        assertEquals(memos, regularFiles(hashes), "the load used them");
        for (Path m : memos) {
            assertTrue(Files.getLastModifiedTime(m).toInstant().isAfter(Instant.now().minus(Duration.ofMinutes(5))), m + " stamped");
        }
    }

    /**
     * A model mapped a plan file; another load removes it (over the limit), then a third writes a new file under its
     * name. The model runs on from its mapping of the removed file, bit for bit as before and as without a cache.
     */
    @Test
    void aModelKeepsRunningFromAPlanFileRemovedUnderIt(@TempDir Path cache) throws IOException {
        assumeTrue(Files.isReadable(Path.of("/proc/self/maps")), "needs Linux's /proc/self/maps");
        float[] uncached = load(DIRECT.withCache(false)).logits();
        Path file = load(DIRECT.withCacheDir(cache)).report().file();
        try (Model held = Model.load(MINI, DIRECT.withCacheDir(cache)); Session session = held.newSession(); Arena arena = Arena.ofConfined()) {
            assertEquals(0, held.planCache().built(), "mapped: " + held.planCache());
            var input = TestRuns.images(arena, held.spec().input().elements(), 1, 42);
            assertArrayEquals(uncached, session.run(input, 1).logits());

            Load other = load(WINOGRAD.withCacheDir(cache).withCacheLimit(1));
            assertTrue(other.err().contains("removed " + file + " (over the 1 B limit)"), other.err());
            assertTrue(Files.readString(Path.of("/proc/self/maps")).contains(cache.toRealPath().resolve(file.getFileName()) + " (deleted)"),
                    "still mapped, from the removed file");
            Load rewriter = load(DIRECT.withCacheDir(cache));
            assertTrue(rewriter.report().written() && Files.exists(file), "a new file under the old name");

            for (int i = 0; i < 3; i++) assertArrayEquals(uncached, session.run(input, 1).logits(), "run " + i + " after the removal");
        }
    }

    @Test
    void theLimitMustBePositive() {
        assertEquals(4L << 30, ModelOptions.defaults().cacheLimit());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelOptions.defaults().withCacheLimit(0));
        assertEquals("cacheLimit must be > 0 bytes, got 0", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ModelOptions.defaults().withCacheLimit(-1));
        assertEquals("4 GiB", PlanCachePruner.size(4L << 30));
        assertEquals("1.5 GiB", PlanCachePruner.size(3L << 29));
        assertEquals("500 MiB", PlanCachePruner.size(500L << 20));
        assertEquals("1 B", PlanCachePruner.size(1));
    }

    private static List<Path> plans(Path dir) throws IOException {
        return regularFiles(dir).stream().filter(f -> f.getFileName().toString().endsWith(".plan")).toList();
    }

    private static List<Path> regularFiles(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return files.filter(Files::isRegularFile).sorted().toList();
        }
    }
}
