package dev.snapscore.engine.serving;

import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.photo.ScoredPhoto;
import dev.snapscore.engine.runtime.TestRuns;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScorerTest {
    private static Model model;
    private static List<byte[]> photos;
    private static List<Prediction> alone; // each photo scored on its own through a plain session

    private static Path fixture(String relative) throws URISyntaxException {
        return Path.of(ScorerTest.class.getResource("/fixtures/" + relative).toURI());
    }

    @BeforeAll
    static void load() throws Exception {
        // Direct: answers are checked against batch-1 runs, and auto may choose per batch size.
        model = Model.load(fixture("models/vgg-mini-nchw"), TestRuns.DIRECT);
        photos = new ArrayList<>();
        alone = new ArrayList<>();
        try (Session s = model.newSession()) {
            for (String name : new String[] {"astronaut.png", "chelsea.png", "coffee.png"}) {
                photos.add(Files.readAllBytes(fixture("images/" + name)));
                alone.add(s.score(List.of(fixture("images/" + name))).getFirst());
            }
        }
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void manyConcurrentCallersGetWhatSingleRequestsGet() throws Exception {
        var options = Scorer.Options.defaults().withMaxBatch(8, Duration.ofMillis(20)).withCapacity(256);
        try (Scorer scorer = Scorer.start(model, options)) {
            ExecutorService clients = Executors.newFixedThreadPool(16);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                int offset = t;
                done.add(clients.submit(() -> {
                    for (int k = 0; k < 10; k++) {
                        int i = (offset + k) % 3;
                        ScoredPhoto s = scorer.submit(photos.get(i)).join();
                        assertEquals(alone.get(i).labelIndex(), s.prediction().labelIndex());
                        assertArrayEquals(alone.get(i).probabilities(), s.prediction().probabilities(), 1e-5f);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) f.get();
            clients.shutdown();
            var m = scorer.metrics();
            assertEquals(160, m.completed());
            long batchedImages = 0, multi = 0;
            for (int size = 1; size < m.batchSizes().length; size++) {
                batchedImages += size * m.batchSizes()[size];
                if (size > 1) multi += m.batchSizes()[size];
            }
            assertEquals(160, batchedImages, "every image ran in exactly one batch");
            assertTrue(multi > 0, "concurrent requests were batched together: " + java.util.Arrays.toString(m.batchSizes()));
            assertTrue(m.p50Ms() > 0 && m.p99Ms() >= m.p50Ms());
        }
    }

    /**
     * One decode worker and a queue of requests: the inference thread, waiting for a full batch, prepares
     * queued requests itself, and every request is still answered once with its own photo's scores.
     */
    @Test
    void theInferenceThreadPreparesQueuedRequestsItself() {
        var options = new Scorer.Options(8, Duration.ofMillis(5), 96, 1, ImageDecoder.withDefaults(), DecodeOptions.DEFAULT, null);
        try (Scorer scorer = Scorer.start(model, options)) {
            List<CompletableFuture<ScoredPhoto>> results = new ArrayList<>();
            for (int i = 0; i < 96; i++) results.add(scorer.submit(photos.get(i % 3)));
            for (int i = 0; i < 96; i++) {
                ScoredPhoto s = results.get(i).join();
                assertEquals(alone.get(i % 3).labelIndex(), s.prediction().labelIndex(), "request " + i);
                assertArrayEquals(alone.get(i % 3).probabilities(), s.prediction().probabilities(), 1e-5f, "request " + i);
            }
            var m = scorer.metrics();
            assertEquals(96, m.completed());
            long batched = 0;
            for (int size = 1; size < m.batchSizes().length; size++) batched += size * m.batchSizes()[size];
            assertEquals(96, batched, "every request ran in exactly one batch");
            assertTrue(m.preparedByInference() > 0 && m.preparedByInference() < 96,
                    "the inference thread and the worker both prepared requests: " + m.preparedByInference() + " by inference");
        }
    }

    /** Starting runs a made-up photo through the photo path and the model to warm them up; no metric counts it. */
    @Test
    void theWarmUpAtStartIsNotARequest() {
        var options = Scorer.Options.defaults().withMaxBatch(4, Duration.ofMillis(5)).withCapacity(4);
        try (Scorer scorer = Scorer.start(model, options)) {
            var m = scorer.metrics();
            assertEquals(0, m.accepted() + m.completed() + m.errors() + m.batches() + m.preparedByInference(), m.toString());
            ScoredPhoto s = scorer.submit(photos.get(1)).join();
            assertArrayEquals(alone.get(1).probabilities(), s.prediction().probabilities(), 1e-5f);
            assertEquals(1, scorer.metrics().completed());
        }
    }

    @Test
    void aFullScorerRejectsFastAndRecovers() {
        var options = Scorer.Options.defaults().withMaxBatch(1, Duration.ZERO).withCapacity(2);
        try (Scorer scorer = Scorer.start(model, options)) {
            List<CompletableFuture<ScoredPhoto>> accepted = new ArrayList<>();
            int rejected = 0;
            for (int i = 0; i < 50; i++) {
                try {
                    accepted.add(scorer.submit(photos.get(0)));
                } catch (ScorerOverloadedException e) {
                    rejected++;
                }
            }
            assertTrue(rejected > 0, "a capacity of 2 cannot take 50 at once");
            accepted.forEach(CompletableFuture::join);
            assertEquals(rejected, scorer.metrics().rejected());
            assertEquals(alone.get(0).labelIndex(), scorer.submit(photos.get(0)).join().prediction().labelIndex());
        }
    }

    @Test
    void badPhotosFailTheirOwnRequestOnly() {
        try (Scorer scorer = Scorer.start(model, Scorer.Options.defaults())) {
            CompletableFuture<ScoredPhoto> bad = scorer.submit("definitely not a photo".getBytes());
            CompletableFuture<ScoredPhoto> good = scorer.submit(photos.get(1));
            var e = assertThrows(CompletionException.class, bad::join);
            assertInstanceOf(ImageException.class, e.getCause());
            assertEquals(alone.get(1).labelIndex(), good.join().prediction().labelIndex());
            assertEquals(1, scorer.metrics().errors());
        }
    }

    @Test
    void closeAnswersEverythingAcceptedThenRefuses() {
        Scorer scorer = Scorer.start(model, Scorer.Options.defaults().withCapacity(64));
        List<CompletableFuture<ScoredPhoto>> inFlight = new ArrayList<>();
        for (int i = 0; i < 40; i++) inFlight.add(scorer.submit(photos.get(i % 3)));
        scorer.close();
        for (var f : inFlight) assertNotNull(f.join().prediction());
        assertThrows(IllegalStateException.class, () -> scorer.submit(photos.get(0)));
    }

    @Test
    void facesAreReportedWhenAsked() {
        var options = Scorer.Options.defaults().withDetector(FaceDetector.Settings.STUDY);
        try (Scorer scorer = Scorer.start(model, options)) {
            var faces = scorer.submit(photos.get(0)).join().faces();
            assertEquals(0.0513, faces.largestFraction(), 1e-4);
            assertEquals(116, faces.largestWidth());
        }
    }
}
