package dev.snapscore.engine.quantize;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Precision;
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
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * int8 and bf16 against f32 on a trained model, where agreement means something: random weights give saturated or
 * near-tied logits, so their flips say little. The fixture ({@code src/test/resources/trained/shapes10}, see
 * its README) is a VGG16 at width 1/4 with a 64x64 input, trained by {@code snapscore train} on
 * {@link ShapeColourPhotos} set 1 (60 photos a class); its held-out accuracy is 72% (chance: 10%). Both run on
 * 300 held-out photos of set 2, as {@code snapscore compare} does. Measured on a VNNI and AMX Xeon: int8
 * (quantised as {@code snapscore quantize --method mse} does, on 60 training photos) 298 of 300 agree (percentile
 * 298, max 297); bf16 299 of 300, relative logit error 0.4%; every flip a near tie. The tests allow one flip more.
 */
class TrainedModelAgreementTest {
    private static final int HELD_OUT_PER_CLASS = 30, CALIBRATION_PER_CLASS = 6;

    @TempDir
    static Path dir;

    @Test
    void int8AgreesWithTheTrainedF32ModelOnHeldOutPhotos() throws Exception {
        Path calibration = dir.resolve("calibration");
        ShapeColourPhotos.writeFolders(calibration, CALIBRATION_PER_CLASS, 1); // the first photos of each training class
        LoadedModel f32 = ModelFormats.read(fixture());
        LoadedModel int8;
        try (InputSet set = InputSet.read(calibration, f32.spec(), 64, skipped -> { throw new AssertionError(skipped); })) {
            int8 = Quantizer.quantize(f32, set, new Quantizer.Options(Quantizer.Method.MSE, 100, true, 8, 2), line -> { });
        }
        try (Model a = Model.of(f32); Model b = Model.of(int8)) {
            Agreement r = onHeldOutPhotos(a, b);
            System.out.printf("trained 10-class model on %d held-out photos: accuracy f32 %d, int8 %d; top-1 agreement %d (%.1f%%)%n",
                    r.n, r.rightA, r.rightB, r.agree, 100.0 * r.agree / r.n);
            assertTrue(r.agree >= 0.99 * r.n, "int8 agrees with f32 on " + r.agree + " of " + r.n + " held-out photos, want >= 99%");
            assertTrue(Math.abs(r.rightB - r.rightA) <= 0.01 * r.n, "int8 accuracy " + r.rightB + " vs f32 " + r.rightA + " of " + r.n);
        }
    }

    @Test
    void bf16AgreesWithTheTrainedF32ModelOnHeldOutPhotos() throws Exception {
        assumeTrue(Dnnl.hasBf16(), "this CPU has no bf16 instructions (oneDNN: " + Dnnl.cpuIsaName() + ")");
        try (Model a = Model.of(ModelFormats.read(fixture()));
             Model b = Model.of(ModelFormats.read(fixture()), ModelOptions.defaults().withPrecision(Precision.BF16))) {
            Agreement r = onHeldOutPhotos(a, b);
            System.out.printf("trained 10-class model on %d held-out photos: bf16 top-1 agreement %d (%.1f%%), relative logit error %.4f%n",
                    r.n, r.agree, 100.0 * r.agree / r.n, r.relativeError());
            assertTrue(r.agree >= 0.99 * r.n, "bf16 agrees with f32 on " + r.agree + " of " + r.n + " held-out photos, want >= 99%");
            assertTrue(r.relativeError() <= 0.01, "bf16 logits move by " + r.relativeError() + " of their size, want <= 1%");
        }
    }

    /** What two models did on the held-out photos: how many agree, how many each got right, and their logits' distance. */
    private record Agreement(int n, int agree, int rightA, int rightB, double squaredDiff, double squaredA) {
        double relativeError() {
            return Math.sqrt(squaredDiff / squaredA);
        }
    }

    private static Agreement onHeldOutPhotos(Model a, Model b) throws Exception {
        Path heldOut = dir.resolve("held-out");
        if (!heldOut.toFile().isDirectory()) ShapeColourPhotos.writeFolders(heldOut, HELD_OUT_PER_CLASS, 2);
        List<String> labels = a.spec().labels();
        assertEquals(Arrays.asList(ShapeColourPhotos.classes()), labels, "the fixture's classes are the generator's");
        int n = 0, agree = 0, rightA = 0, rightB = 0;
        double squaredDiff = 0, squaredA = 0;
        try (Session sa = a.newSession(2); Session sb = b.newSession(2)) {
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
                            if (ra.argmax(i) == want) rightA++;
                            if (rb.argmax(i) == want) rightB++;
                        }
                        for (int j = 0; j < ra.logits().length; j++) {
                            double d = ra.logits()[j] - rb.logits()[j];
                            squaredDiff += d * d;
                            squaredA += (double) ra.logits()[j] * ra.logits()[j];
                        }
                    }
                }
            }
        }
        assertEquals(10 * HELD_OUT_PER_CLASS, n);
        // Chance is 10%: a model this far above it has learnt the classes, so its logits have real margins.
        assertTrue(rightA >= 0.6 * n, "f32 held-out accuracy " + rightA + " of " + n + ", want >= 60%: not the trained fixture?");
        return new Agreement(n, agree, rightA, rightB, squaredDiff, squaredA);
    }

    private static Path fixture() throws URISyntaxException {
        return Path.of(TrainedModelAgreementTest.class.getResource("/trained/shapes10/spec.json").toURI()).getParent();
    }
}
