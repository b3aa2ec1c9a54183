package dev.snapscore.training;

import dev.snapscore.engine.format.ModelGenerator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tiny networks (width 1/32, 32x32) on a few generated photos: the chance-level refusal, and --resume. */
class RefusalAndResumeTest {
    @TempDir
    Path dir;

    /** Circles and stripes put into folders a/ and b/ at random: nothing to learn, so nothing is exported. */
    @Test
    void randomLabelsAreRefusedWithExitCode3() throws IOException {
        Path photos = dir.resolve("random"), model = dir.resolve("model"), ck = dir.resolve("ck");
        SplittableRandom r = new SplittableRandom(8);
        for (int i = 0; i < 40; i++) {
            Path folder = Files.createDirectories(photos.resolve(i % 2 == 0 ? "a" : "b")); // 20 each, content at random
            SyntheticPhotos.write(ShapePhotos.photo(r.nextBoolean(), r), folder.resolve(i + ".png"), "png");
        }
        List<String> args = new ArrayList<>(List.of("--data", photos.toString(), "--width", "0.03125", "--input-size", "32",
                "--head", "8", "--epochs", "3", "--validation", "0.5", "--checkpoints", ck.toString(), "--export", model.toString()));
        Train run = Train.run(args.toArray(String[]::new));
        assertEquals(TrainCommand.NOT_LEARNED, run.code(), run.out() + run.err());
        assertTrue(run.out().contains("the model did not learn: "), run.out());
        assertTrue(run.out().contains("of 20 validation images right"), run.out());
        assertTrue(run.out().contains("needed: 15, 0.750"), run.out()); // P(Binomial(20, 1/2) >= 15) = 2.1%, >= 14: 5.8%
        assertTrue(run.out().contains("checkpoint kept: " + ck.resolve("best.zip")), run.out());
        assertTrue(run.out().contains("NOT exported to " + model), run.out());
        assertFalse(run.out().lines().anyMatch(l -> l.startsWith("exported")), run.out());
        assertFalse(Files.exists(model));
        assertTrue(Files.isRegularFile(ck.resolve("best.zip")));

        args.add("--export-anyway");
        Train anyway = Train.run(args.toArray(String[]::new));
        assertEquals(TrainCommand.OK, anyway.code(), anyway.out() + anyway.err());
        String exported = anyway.out().lines().filter(l -> l.startsWith("exported")).findFirst().orElseThrow();
        assertTrue(exported.contains("(a model that did not learn, as --export-anyway asked)"), exported);
        assertTrue(Files.isRegularFile(model.resolve("spec.json")));
    }

    /**
     * Two epochs, then --resume to four: epochs 3 and 4 only, at the schedule's step (not from step 0), with
     * Adam's state and the counters as the checkpoint had them; another network's options are refused.
     */
    @Test
    void resumeContinuesFromTheCheckpoint() throws Exception {
        Path photos = dir.resolve("photos"), ck = dir.resolve("ck"), saved = dir.resolve("after-2");
        ShapePhotos.writeFolders(photos, 12, 4);
        // 24 photos, 3 a class validate: 18 train, 5 steps an epoch at batch 4
        List<String> base = List.of("--data", photos.toString(), "--width", "0.03125", "--input-size", "32", "--head", "8",
                "--batch", "4", "--validation", "0.25", "--seed", "5", "--checkpoints", ck.toString());
        Train first = Train.run(with(base, "--epochs", "2"));
        assertTrue(first.code() == TrainCommand.OK || first.code() == TrainCommand.NOT_LEARNED, first.out() + first.err());
        Files.createDirectories(saved);
        for (String f : List.of("best.zip", "last.zip")) Files.copy(ck.resolve(f), saved.resolve(f));

        Train resumed = Train.run(with(base, "--epochs", "4", "--resume", ck.resolve("last.zip").toString()));
        assertTrue(resumed.code() == TrainCommand.OK || resumed.code() == TrainCommand.NOT_LEARNED, resumed.out() + resumed.err());
        assertTrue(resumed.out().contains("resuming after epoch 2"), resumed.out());
        assertTrue(resumed.out().contains(", step 10"), resumed.out());
        assertFalse(resumed.out().contains("epoch   1/4") || resumed.out().contains("epoch   2/4"), resumed.out());
        // the learning rate of epoch 3's first step is the 4-epoch schedule's at step 10 (warm-up: one epoch, 5 steps)
        assertEquals(LearningRate.at(1e-3, 5, 20, 10), resumed.figure("epoch   3/4", "lr "), 5e-3 * LearningRate.at(1e-3, 5, 20, 10)); // printed to 3 digits
        assertEquals(LearningRate.at(1e-3, 5, 20, 15), resumed.figure("epoch   4/4", "lr "), 5e-3 * LearningRate.at(1e-3, 5, 20, 15));
        String state = ModelSerializer.getObjectFromFile(ck.resolve("last.zip").toFile(), Trainer.State.KEY);
        Trainer.State after = Trainer.State.of(state);
        assertEquals(4, after.epochs().size());
        String before = ModelSerializer.getObjectFromFile(saved.resolve("last.zip").toFile(), Trainer.State.KEY);
        assertEquals(Trainer.State.of(before).epochs(), after.epochs().subList(0, 2), "the first two epochs are the first run's");

        // What --resume puts into a freshly built network: the checkpoint's weights, Adam's moments and counters.
        Architecture arch = Architecture.vgg16(0.03125, ModelGenerator.Pool.NONE, List.of(8), 0, 2, 32);
        MultiLayerNetwork net = Dl4jNetwork.build(arch, new Dl4jNetwork.Hyper(LearningRate.warmupCosine(1e-3, 5, 20), 1e-4, 5, false, true, Dl4jNetwork.bnDecay(5)));
        Trainer.restoreInto(net, saved.resolve("last.zip"));
        MultiLayerNetwork checkpoint = ModelSerializer.restoreMultiLayerNetwork(saved.resolve("last.zip").toFile(), true);
        assertEquals(checkpoint.params(), net.params());
        assertTrue(checkpoint.getUpdater().getStateViewArray().amaxNumber().doubleValue() > 0, "Adam's moments were saved");
        assertEquals(checkpoint.getUpdater().getStateViewArray(), net.getUpdater().getStateViewArray());
        assertEquals(10, net.getIterationCount());
        assertEquals(2, net.getEpochCount());

        Train other = Train.run(with(base, "--epochs", "3", "--head", "16", "--resume", saved.resolve("last.zip").toString()));
        assertEquals(TrainCommand.BAD_INPUT, other.code(), other.out() + other.err());
        assertTrue(other.err().contains("is another network than these options make"), other.err());
    }

    private static String[] with(List<String> base, String... more) {
        return Stream.concat(base.stream(), Stream.of(more)).toArray(String[]::new);
    }
}
