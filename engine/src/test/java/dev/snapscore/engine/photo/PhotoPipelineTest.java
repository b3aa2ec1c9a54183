package dev.snapscore.engine.photo;

import dev.snapscore.engine.Fixtures;
import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.Result;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Photo;
import dev.snapscore.engine.image.Preprocessor;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The photo pipeline against its parts called directly: the decoder, the preprocessor, the face detector, a session. */
class PhotoPipelineTest {
    private static final ImageDecoder DECODER = ImageDecoder.withDefaults();
    private static Model model;
    private static Preprocessor preprocessor;
    private static long imageFloats;

    @BeforeAll
    static void load() {
        model = Model.load(Fixtures.model("vgg-mini-nchw"));
        preprocessor = new Preprocessor(model.spec().input(), model.spec().preprocess());
        imageFloats = model.spec().input().elements();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static Path image(String name) throws Exception {
        return Path.of(PhotoPipelineTest.class.getResource("/fixtures/images/" + name).toURI());
    }

    /** A batch buffer of {@code n} images, every element -7 (no preprocessed value). */
    private static MemorySegment batch(Arena arena, int n) {
        MemorySegment b = arena.allocate(n * imageFloats * Float.BYTES, 64);
        for (long i = 0; i < n * imageFloats; i++) b.setAtIndex(JAVA_FLOAT, i, -7f);
        return b;
    }

    private static float[] slot(MemorySegment batch, int i) {
        return batch.asSlice(i * imageFloats * Float.BYTES, imageFloats * Float.BYTES).toArray(JAVA_FLOAT);
    }

    /** What the preprocessor writes for a decoded file, on its own. */
    private static float[] preprocessed(Path file, Arena arena) {
        MemorySegment one = batch(arena, 1);
        try (Mat bgr = DECODER.read(file, DecodeOptions.EXACT, null, null).bgr()) {
            preprocessor.write(bgr, one, 0);
        }
        return slot(one, 0);
    }

    @Test
    void aPhotoGoesIntoItsSlotAndNowhereElse() throws Exception {
        try (Arena arena = Arena.ofConfined(); PhotoPipeline pipeline = PhotoPipeline.forModel(model.spec(), DECODER, DecodeOptions.DEFAULT, null)) {
            MemorySegment batch = batch(arena, 3);
            PreparedPhoto p = pipeline.prepare(PhotoSource.of(image("chelsea.png")), batch, 1);
            assertEquals(ScoredPhoto.Status.OK, p.status());
            assertEquals(1, p.slot());
            assertEquals(451, p.width());
            assertEquals(300, p.height());
            assertNull(p.faces());
            assertArrayEquals(preprocessed(image("chelsea.png"), arena), slot(batch, 1));
            for (int untouched : new int[] {0, 2}) for (float v : slot(batch, untouched)) assertEquals(-7f, v);
        }
    }

    @Test
    void badPhotosAreErrorsThatLeaveTheBatchAlone() {
        try (Arena arena = Arena.ofConfined(); PhotoPipeline pipeline = PhotoPipeline.forModel(model.spec(), DECODER, DecodeOptions.DEFAULT, null)) {
            MemorySegment batch = batch(arena, 1);
            PreparedPhoto text = pipeline.prepare(PhotoSource.of("upload", "definitely not a photo".getBytes()), batch, 0);
            assertEquals(ScoredPhoto.Status.ERROR, text.status());
            assertTrue(text.error().startsWith("upload: not a recognised image"), text.error());
            PreparedPhoto unreadable = pipeline.prepare(PhotoSource.reading("s3a://b/x.jpg", () -> {
                throw new ImageException("s3a://b/x.jpg: no content");
            }), batch, 0);
            assertEquals("s3a://b/x.jpg: no content", unreadable.error());
            PreparedPhoto missing = pipeline.prepare(PhotoSource.of(Path.of("no/such.jpg")), batch, 0);
            assertEquals("no/such.jpg: no such file", missing.error());
            for (float v : slot(batch, 0)) assertEquals(-7f, v);
            // A slot outside the buffer is the caller's mistake, not the photo's.
            assertThrows(IllegalArgumentException.class, () -> pipeline.prepare(PhotoSource.of("upload", new byte[1]), batch, 1));
        }
    }

    @Test
    void theFaceCheckRejectsOrReportsAsTheDetectorFinds() throws Exception {
        FaceDetector.Faces direct, aboveRule;
        try (FaceDetector detector = new FaceDetector(FaceDetector.Settings.STUDY, DecodeOptions.EXACT); Mat bgr = DECODER.read(image("astronaut.png"), DecodeOptions.EXACT, null, null).bgr()) {
            direct = detector.detect(new Photo(bgr, bgr.cols(), bgr.rows()));
            aboveRule = detector.detect(new Photo(bgr, bgr.cols(), bgr.rows()), 0.055);
        }
        assertEquals(0.0513, direct.largestFraction(), 1e-4); // the astronaut's face: 5.1% of the photo
        assertEquals(0, aboveRule.count(), "cleaning looks only for faces that could cover more than 5.5%");
        try (Arena arena = Arena.ofConfined();
             PhotoPipeline cleaning = PhotoPipeline.forModel(model.spec(), DECODER, DecodeOptions.DEFAULT, FaceCheck.clean(FaceDetector.Settings.STUDY, 0.055));
             PhotoPipeline reporting = PhotoPipeline.forModel(model.spec(), DECODER, DecodeOptions.DEFAULT, FaceCheck.report(FaceDetector.Settings.STUDY))) {
            MemorySegment batch = batch(arena, 1);
            PreparedPhoto rejected = cleaning.prepare(PhotoSource.of(image("astronaut.png")), batch, 0);
            assertEquals(ScoredPhoto.Status.REJECTED, rejected.status());
            assertEquals(aboveRule, rejected.faces());
            for (float v : slot(batch, 0)) assertEquals(-7f, v);
            assertEquals(ScoredPhoto.Status.REJECTED, cleaning.check(PhotoSource.of(image("astronaut.png"))).status());

            PreparedPhoto reported = reporting.prepare(PhotoSource.of(image("astronaut.png")), batch, 0);
            assertEquals(ScoredPhoto.Status.OK, reported.status());
            assertEquals(direct, reported.faces());
            assertArrayEquals(preprocessed(image("astronaut.png"), arena), slot(batch, 0));
        }
    }

    @Test
    void scoringRunsThePhotosInTheBatchAndKeepsEveryRowInOrder() throws Exception {
        try (Arena arena = Arena.ofConfined(); Session session = model.newSession(1);
             PhotoPipeline pipeline = PhotoPipeline.forModel(model.spec(), DECODER, DecodeOptions.DEFAULT, FaceCheck.clean(FaceDetector.Settings.STUDY, 0.055))) {
            MemorySegment batch = batch(arena, 2);
            List<PreparedPhoto> photos = List.of(
                    pipeline.prepare(PhotoSource.of(image("chelsea.png")), batch, 0),
                    pipeline.prepare(PhotoSource.of("broken", new byte[] {1, 2, 3}), batch, 1),
                    pipeline.prepare(PhotoSource.of(image("astronaut.png")), batch, 1),
                    pipeline.prepare(PhotoSource.of(image("chelsea.png")), batch, 1));
            List<ScoredPhoto> rows = pipeline.score(session, batch, photos);

            MemorySegment reference = batch(arena, 2);
            MemorySegment.copy(MemorySegment.ofArray(preprocessed(image("chelsea.png"), arena)), 0, reference, 0, imageFloats * Float.BYTES);
            MemorySegment.copy(reference, 0, reference, imageFloats * Float.BYTES, imageFloats * Float.BYTES);
            Result r = session.run(reference, 2);
            assertEquals(List.of(ScoredPhoto.Status.OK, ScoredPhoto.Status.ERROR, ScoredPhoto.Status.REJECTED, ScoredPhoto.Status.OK),
                    rows.stream().map(ScoredPhoto::status).toList());
            for (int i : new int[] {0, 3}) {
                Prediction want = Prediction.of(r, i == 0 ? 0 : 1, model.spec());
                assertArrayEquals(want.probabilities(), rows.get(i).prediction().probabilities());
                assertEquals(want.label(), rows.get(i).prediction().label());
                assertEquals(0.0585, rows.get(i).faceFraction(), 1e-4); // the cat's face: 5.9%
            }
            assertTrue(rows.get(1).error().startsWith("broken: "), rows.get(1).error());
            assertNull(rows.get(1).prediction());
            assertEquals(0, rows.get(2).faceFraction()); // the astronaut's 5.1% face is below the rule's sizes
            assertNull(rows.get(2).prediction());
        }
    }
}
