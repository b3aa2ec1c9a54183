package dev.snapscore.engine.batch;

import dev.snapscore.engine.Model;
import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.photo.FaceCheck;
import dev.snapscore.engine.photo.PhotoPipeline;
import dev.snapscore.engine.photo.ScoredPhoto;
import dev.snapscore.engine.runtime.TestRuns;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The folder scorer's rows do not depend on how many workers prepare photos (the inference thread prepares
 * them too, and alone with zero workers): same rows, same order, every photo once, bad files as error rows,
 * and each scored photo's probabilities those of the photo scored alone.
 */
class BatchScorerTest {
    private static final String[] IMAGES = {"astronaut.png", "chelsea.png", "coffee.png"};

    private static Path fixture(String relative) throws Exception {
        return Path.of(BatchScorerTest.class.getResource("/fixtures/" + relative).toURI());
    }

    /** 17 photos: the three fixtures over and over, with an unreadable file, a missing one and an empty one among them. */
    private static List<Path> photos(Path dir) throws Exception {
        Files.writeString(dir.resolve("broken.jpg"), "not a jpeg");
        Files.write(dir.resolve("empty.png"), new byte[0]);
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < 14; i++) {
            files.add(fixture("images/" + IMAGES[i % 3]));
            if (i == 2) files.add(dir.resolve("broken.jpg"));
            if (i == 7) files.add(dir.resolve("missing.png"));
            if (i == 8) files.add(dir.resolve("empty.png"));
        }
        return files;
    }

    private record Run(List<ScoredPhoto> rows, BatchScorer.Stats stats) {
    }

    private static Run run(Session session, PhotoPipeline pipeline, List<Path> files, int batch, int workers) throws Exception {
        List<ScoredPhoto> rows = new ArrayList<>();
        BatchScorer.Stats stats = BatchScorer.run(session, pipeline, files, new BatchScorer.Options(batch, workers), rows::addAll);
        return new Run(rows, stats);
    }

    private static String describe(List<ScoredPhoto> rows) {
        return rows.stream().map(r -> Path.of(r.file()).getFileName() + ":" + r.status()).collect(Collectors.joining(" "));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 3})
    @Timeout(120)
    void rowsDoNotDependOnTheWorkers(int workers, @TempDir Path dir) throws Exception {
        List<Path> files = photos(dir);
        try (Model model = Model.load(fixture("models/vgg-mini-nchw"), TestRuns.DIRECT); // rows vs batch-1 runs
             Session session = model.newSession(2);
             PhotoPipeline pipeline = PhotoPipeline.forModel(model.spec(), ImageDecoder.withDefaults(), DecodeOptions.DEFAULT, null)) {
            List<Prediction> alone = session.score(List.of(fixture("images/" + IMAGES[0]), fixture("images/" + IMAGES[1]),
                    fixture("images/" + IMAGES[2])));
            Run got = run(session, pipeline, files, 4, workers);
            assertEquals(files.stream().map(Path::toString).toList(), got.rows().stream().map(ScoredPhoto::file).toList(),
                    "one row per photo, in input order: " + describe(got.rows()));
            int k = 0;
            for (ScoredPhoto row : got.rows()) {
                String name = Path.of(row.file()).getFileName().toString();
                if (name.equals("broken.jpg") || name.equals("missing.png") || name.equals("empty.png")) {
                    assertEquals(ScoredPhoto.Status.ERROR, row.status(), name);
                    assertTrue(row.error() != null && row.error().contains(name), row.error());
                    continue;
                }
                assertEquals(ScoredPhoto.Status.OK, row.status(), name + ": " + row.error());
                Prediction want = alone.get(k++ % 3);
                assertEquals(want.labelIndex(), row.prediction().labelIndex(), name);
                assertArrayEquals(want.probabilities(), row.prediction().probabilities(), 1e-5f, name);
            }
            assertEquals(14, got.stats().scored());
            assertEquals(3, got.stats().errors());
            assertTrue(got.stats().decodeSeconds() > 0);
            if (workers == 0) {
                assertEquals(got.stats().decodeSeconds() + got.stats().cleanSeconds(), got.stats().helpedSeconds(), 1e-6,
                        "with no workers the inference thread prepares every photo");
                assertEquals(0, got.stats().waitingSeconds(), "with no workers there is no one to wait for");
            }
            assertTrue(got.stats().helpedSeconds() <= got.stats().decodeSeconds() + got.stats().cleanSeconds() + 1e-9);
        }
    }

    /** With the face rule, rejected and error rows take no batch slot, whoever prepared them: the same rows as one worker. */
    @Test
    @Timeout(120)
    void cleaningRowsDoNotDependOnTheWorkers(@TempDir Path dir) throws Exception {
        List<Path> files = photos(dir);
        try (Model model = Model.load(fixture("models/vgg-mini-nchw"), TestRuns.DIRECT); // rows vs batch-1 runs
             Session session = model.newSession(2);
             PhotoPipeline pipeline = PhotoPipeline.forModel(model.spec(), ImageDecoder.withDefaults(), DecodeOptions.DEFAULT,
                     FaceCheck.clean(FaceDetector.Settings.STUDY, 0.01))) {
            Run one = run(session, pipeline, files, 3, 1), none = run(session, pipeline, files, 3, 0), two = run(session, pipeline, files, 3, 2);
            assertTrue(one.stats().rejected() > 0 && one.stats().scored() > 0, "the face rule must both keep and reject: " + describe(one.rows()));
            for (Run other : List.of(none, two)) {
                assertEquals(describe(one.rows()), describe(other.rows()));
                for (int i = 0; i < one.rows().size(); i++) {
                    ScoredPhoto a = one.rows().get(i), b = other.rows().get(i);
                    assertEquals(a.faces(), b.faces(), a.file());
                    assertEquals(a.error(), b.error(), a.file());
                    if (a.prediction() == null) assertNull(b.prediction(), a.file());
                    else assertArrayEquals(a.prediction().probabilities(), b.prediction().probabilities(), a.file());
                }
            }
            assertTrue(none.stats().cleanSeconds() > 0);
        }
    }

    @Test
    void negativeWorkersAreRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> new BatchScorer.Options(8, -1));
        assertTrue(e.getMessage().contains("workers must be >= 0"), e.getMessage());
    }
}
