package dev.snapscore.engine.quantize;

import dev.snapscore.engine.Model;
import dev.snapscore.engine.Result;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelFormats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * int8 against f32 on a trained model, where agreement means something: random weights give saturated or
 * near-tied logits, so their flips say little. The fixture ({@code src/test/resources/trained/shapes10}, see
 * its README) is a VGG16 at width 1/4 with a 64x64 input, trained by {@code snapscore train} on
 * {@link ShapeColourPhotos} set 1 (60 photos a class); its held-out accuracy is 72% (chance: 10%). Here it is
 * quantised as {@code snapscore quantize --method mse} does (int8 dense head) on 60 training photos, and run on
 * 300 held-out photos of set 2, as {@code snapscore compare} does. Measured on a VNNI Xeon: 298 of 300 agree
 * (mse; percentile 298, max 297), every flip a near tie; the test allows one flip more.
 */
class TrainedModelInt8Test {
    private static final int HELD_OUT_PER_CLASS = 30, CALIBRATION_PER_CLASS = 6;

    @Test
    void int8AgreesWithTheTrainedF32ModelOnHeldOutPhotos(@TempDir Path dir) throws Exception {
        Path heldOut = dir.resolve("held-out"), calibration = dir.resolve("calibration");
        ShapeColourPhotos.writeFolders(heldOut, HELD_OUT_PER_CLASS, 2);
        ShapeColourPhotos.writeFolders(calibration, CALIBRATION_PER_CLASS, 1); // the first photos of each training class
        LoadedModel f32 = ModelFormats.read(fixture());
        LoadedModel int8;
        try (InputSet set = InputSet.read(calibration, f32.spec(), 64, skipped -> { throw new AssertionError(skipped); })) {
            int8 = Quantizer.quantize(f32, set, new Quantizer.Options(Quantizer.Method.MSE, 100, true, 8, 2), line -> { });
        }
        List<String> labels = f32.spec().labels();
        assertEquals(Arrays.asList(ShapeColourPhotos.classes()), labels, "the fixture's classes are the generator's");
        int n = 0, agree = 0, rightF32 = 0, rightInt8 = 0;
        try (Model a = Model.of(f32); Model b = Model.of(int8); Session sa = a.newSession(2); Session sb = b.newSession(2)) {
            for (String label : labels) {
                try (InputSet set = InputSet.read(heldOut.resolve(label), a.spec(), HELD_OUT_PER_CLASS,
                        skipped -> { throw new AssertionError(skipped); })) {
                    assertEquals(HELD_OUT_PER_CLASS, set.count());
                    int want = labels.indexOf(label);
                    for (int first = 0; first < set.count(); first += 8) {
                        int k = Math.min(8, set.count() - first);
                        Result ra = sa.run(set.slice(first, k), k), rb = sb.run(set.slice(first, k), k);
                        for (int i = 0; i < k; i++) {
                            n++;
                            if (ra.argmax(i) == rb.argmax(i)) agree++;
                            if (ra.argmax(i) == want) rightF32++;
                            if (rb.argmax(i) == want) rightInt8++;
                        }
                    }
                }
            }
        }
        System.out.printf("trained 10-class model on %d held-out photos: accuracy f32 %d, int8 %d; top-1 agreement %d (%.1f%%)%n",
                n, rightF32, rightInt8, agree, 100.0 * agree / n);
        assertEquals(10 * HELD_OUT_PER_CLASS, n);
        // Chance is 10%: a model this far above it has learnt the classes, so its logits have real margins.
        assertTrue(rightF32 >= 0.6 * n, "f32 held-out accuracy " + rightF32 + " of " + n + ", want >= 60%: not the trained fixture?");
        assertTrue(agree >= 0.99 * n, "int8 agrees with f32 on " + agree + " of " + n + " held-out photos, want >= 99%");
        assertTrue(Math.abs(rightInt8 - rightF32) <= 0.01 * n, "int8 accuracy " + rightInt8 + " vs f32 " + rightF32 + " of " + n);
    }

    private static Path fixture() throws URISyntaxException {
        return Path.of(TrainedModelInt8Test.class.getResource("/trained/shapes10/spec.json").toURI()).getParent();
    }
}
