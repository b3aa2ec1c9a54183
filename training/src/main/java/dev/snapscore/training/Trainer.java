package dev.snapscore.training;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The training loop: a stratified validation split, epochs of shuffled mini-batches, one progress line per
 * epoch, early stopping on validation loss with the best weights restored at the end, and checkpoints.
 */
final class Trainer {
    /**
     * @param patience    epochs without a lower validation loss before stopping
     * @param maxShift    augmentation crop shift in pixels; 0 with {@code flip} false means no augmentation
     * @param checkpoints folder for {@code best.zip} and {@code last.zip} (DL4J's format), or null
     */
    record Options(int epochs, int batch, double validation, int patience, boolean flip, int maxShift, long seed,
                   Path checkpoints) {
        Options {
            if (epochs < 1) throw new IllegalArgumentException("--epochs must be >= 1, got " + epochs);
            if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
            if (!(validation > 0 && validation < 1)) throw new IllegalArgumentException("--validation must be in (0, 1), got " + validation);
            if (patience < 1) throw new IllegalArgumentException("--patience must be >= 1, got " + patience);
            if (maxShift < 0) throw new IllegalArgumentException("--crop must be >= 0, got " + maxShift);
        }
    }

    /** One epoch's figures. */
    record Epoch(int epoch, double trainLoss, double valLoss, double valAccuracy, double imagesPerSecond) {
    }

    /** The outcome: every epoch, the best one (whose weights the network now holds), the validation images. */
    record Outcome(List<Epoch> epochs, Epoch best, int[] validation, boolean stoppedEarly) {
    }

    private final Options options;
    private final PrintWriter out;

    Trainer(Options options, PrintWriter out) {
        this.options = options;
        this.out = out;
    }

    Outcome train(MultiLayerNetwork net, InputCache cache) throws IOException {
        int[][] split = split(cache.data().labels(), cache.data().classes(), options.validation(), options.seed());
        int[] train = split[0], validation = split[1];
        if (train.length == 0 || validation.length == 0) {
            throw new IllegalArgumentException("too few images (" + cache.data().size() + ") for a " + options.validation()
                    + " validation split: need at least one for training and one for validation");
        }
        out.printf("training on %d images, validating on %d; %d classes %s, counts %s%n", train.length, validation.length,
                cache.data().classes(), cache.data().classNames(), Arrays.toString(cache.data().counts()));
        Batches batches = new Batches(cache);
        SplittableRandom random = new SplittableRandom(options.seed());
        boolean augment = options.flip() || options.maxShift() > 0;
        List<Epoch> epochs = new ArrayList<>();
        Epoch best = null;
        INDArray bestParams = null;
        int sinceBest = 0;
        boolean stoppedEarly = false;
        for (int e = 1; e <= options.epochs(); e++) {
            shuffle(train, random);
            long start = System.nanoTime();
            double lossSum = 0;
            for (int first = 0; first < train.length; first += options.batch()) {
                int[] idx = Arrays.copyOfRange(train, first, Math.min(train.length, first + options.batch()));
                DataSet ds = batches.batch(idx, options.flip(), options.maxShift(), augment ? random : null);
                net.fit(ds);
                lossSum += net.score() * idx.length;
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            double[] val = evaluate(net, batches, validation, options.batch());
            Epoch epoch = new Epoch(e, lossSum / train.length, val[0], val[1], train.length / seconds);
            epochs.add(epoch);
            boolean improved = best == null || epoch.valLoss() < best.valLoss();
            out.printf("epoch %3d/%d  loss %.4f  val_loss %.4f  val_acc %.3f  %.2f images/s%s%n", e, options.epochs(),
                    epoch.trainLoss(), epoch.valLoss(), epoch.valAccuracy(), epoch.imagesPerSecond(), improved ? "  *best" : "");
            out.flush();
            if (improved) {
                best = epoch;
                bestParams = net.params().dup();
                sinceBest = 0;
                checkpoint(net, "best.zip");
            } else {
                sinceBest++;
            }
            checkpoint(net, "last.zip");
            if (sinceBest >= options.patience()) {
                out.printf("early stop: validation loss has not improved for %d epochs; best was epoch %d%n", sinceBest, best.epoch());
                stoppedEarly = true;
                break;
            }
        }
        net.setParams(bestParams);
        return new Outcome(List.copyOf(epochs), best, validation, stoppedEarly);
    }

    /** Validation loss (mean cross-entropy, no dropout) and accuracy. */
    static double[] evaluate(MultiLayerNetwork net, Batches batches, int[] indices, int batch) {
        double loss = 0;
        int correct = 0;
        for (int first = 0; first < indices.length; first += batch) {
            int[] idx = Arrays.copyOfRange(indices, first, Math.min(indices.length, first + batch));
            DataSet ds = batches.batch(idx, false, 0, null);
            loss += net.score(ds, false) * idx.length;
            INDArray predicted = net.output(ds.getFeatures(), false).argMax(1);
            INDArray actual = ds.getLabels().argMax(1);
            for (int i = 0; i < idx.length; i++) if (predicted.getInt(i) == actual.getInt(i)) correct++;
        }
        return new double[] {loss / indices.length, correct / (double) indices.length};
    }

    /**
     * A stratified split: from each class, a {@code fraction} of its images (rounded, at least one when the
     * class has two or more) goes to validation. Deterministic for a seed. Returns {train, validation}.
     */
    static int[][] split(int[] labels, int classes, double fraction, long seed) {
        SplittableRandom random = new SplittableRandom(seed ^ 0x5eed);
        List<Integer> train = new ArrayList<>(), validation = new ArrayList<>();
        for (int c = 0; c < classes; c++) {
            List<Integer> members = new ArrayList<>();
            for (int i = 0; i < labels.length; i++) if (labels[i] == c) members.add(i);
            int[] m = members.stream().mapToInt(Integer::intValue).toArray();
            shuffle(m, random);
            int v = (int) Math.round(m.length * fraction);
            if (v == 0 && m.length >= 2) v = 1;
            for (int i = 0; i < m.length; i++) (i < v ? validation : train).add(m[i]);
        }
        return new int[][] {train.stream().mapToInt(Integer::intValue).toArray(),
                validation.stream().mapToInt(Integer::intValue).sorted().toArray()};
    }

    private static void shuffle(int[] a, SplittableRandom random) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1), t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /** Written beside, then moved over the old one: a crash mid-write leaves the previous checkpoint. */
    private void checkpoint(MultiLayerNetwork net, String name) throws IOException {
        if (options.checkpoints() == null) return;
        Path dir = options.checkpoints();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + name, ".part");
        try {
            ModelSerializer.writeModel(net, tmp.toFile(), true);
            try {
                Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
