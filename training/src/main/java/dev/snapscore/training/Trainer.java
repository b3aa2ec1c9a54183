package dev.snapscore.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
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
 * epoch (with where its time went and an ETA), early stopping on validation loss with the best weights
 * restored at the end, and checkpoints that {@link #resume} continues from.
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
    record Epoch(int epoch, double trainLoss, double valLoss, double valAccuracy, int valCorrect, double imagesPerSecond) {
    }

    /** The outcome: every epoch, the best one (whose weights the network now holds), the validation images. */
    record Outcome(List<Epoch> epochs, Epoch best, int[] validation, boolean stoppedEarly) {
    }

    /**
     * Where a checkpoint left off, saved inside it: the epochs done, and (for early stopping and the final
     * choice) the best one so far and the epochs since.
     */
    record State(List<String> classes, List<Epoch> epochs, int bestEpoch, int sinceBest) {
        static final String KEY = "snapscore-training-state.json";
        private static final ObjectMapper JSON = new ObjectMapper();

        String json() {
            try {
                return JSON.writeValueAsString(this);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        static State of(String json) {
            try {
                return JSON.readValue(json, State.class);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        Epoch best() {
            return epochs.stream().filter(e -> e.epoch() == bestEpoch).findFirst().orElseThrow();
        }
    }

    /** Training picked up from a checkpoint: its state, and the best epoch's weights. */
    record Resumed(State state, INDArray bestParams) {
    }

    private final Options options;
    private final PrintWriter out;

    Trainer(Options options, PrintWriter out) {
        this.options = options;
        this.out = out;
    }

    Outcome train(MultiLayerNetwork net, InputCache cache) throws IOException {
        return train(net, cache, null);
    }

    /** Trains from scratch ({@code resumed} null) or on from a checkpoint's state. */
    Outcome train(MultiLayerNetwork net, InputCache cache, Resumed resumed) throws IOException {
        int[][] split = split(cache.data().labels(), cache.data().classes(), options.validation(), options.seed());
        int[] train = split[0], validation = split[1];
        if (train.length == 0 || validation.length == 0) {
            throw new IllegalArgumentException("too few images (" + cache.data().size() + ") for a " + options.validation()
                    + " validation split: need at least one for training and one for validation");
        }
        out.printf("training on %d images, validating on %d; %d classes %s, counts %s%n", train.length, validation.length,
                cache.data().classes(), cache.data().classNames(), Arrays.toString(cache.data().counts()));
        Batches batches = new Batches(cache);
        boolean augment = options.flip() || options.maxShift() > 0;
        List<Epoch> epochs = new ArrayList<>();
        Epoch best = null;
        INDArray bestParams = null;
        int sinceBest = 0, first = 1;
        if (resumed != null) {
            if (!resumed.state().classes().equals(cache.data().classNames())) {
                throw new IllegalArgumentException("the checkpoint was trained on classes " + resumed.state().classes()
                        + ", these data have " + cache.data().classNames());
            }
            epochs.addAll(resumed.state().epochs());
            best = resumed.state().best();
            bestParams = resumed.bestParams();
            sinceBest = resumed.state().sinceBest();
            first = epochs.size() + 1;
            out.printf("resuming after epoch %d (best so far: epoch %d, val_loss %.4f), step %d%n", epochs.size(), best.epoch(),
                    best.valLoss(), net.getIterationCount());
            if (first > options.epochs()) out.printf("the checkpoint has done all %d epochs already%n", options.epochs());
            if (sinceBest >= options.patience()) {
                out.printf("it had stopped early (%d epochs without a lower validation loss); --patience %d keeps it stopped%n",
                        sinceBest, options.patience());
                first = options.epochs() + 1;
            }
        }
        boolean stoppedEarly = false;
        double secondsSoFar = 0;
        for (int e = first; e <= options.epochs(); e++) {
            // The order of epoch e depends on the seed and e only, so a resumed run sees the same orders.
            SplittableRandom random = new SplittableRandom(options.seed() * 31 + e);
            shuffle(train, random);
            long start = System.nanoTime();
            double lossSum = 0, lr = currentLearningRate(net);
            for (int b = 0; b < train.length; b += options.batch()) {
                int[] idx = Arrays.copyOfRange(train, b, Math.min(train.length, b + options.batch()));
                DataSet ds = batches.batch(idx, options.flip(), options.maxShift(), augment ? random : null);
                net.fit(ds);
                lossSum += net.score() * idx.length;
            }
            long trained = System.nanoTime();
            double[] val = evaluate(net, batches, validation, options.batch());
            long validated = System.nanoTime();
            net.incrementEpochCount();
            Epoch epoch = new Epoch(e, lossSum / train.length, val[0], val[1], (int) Math.round(val[1] * validation.length),
                    train.length / ((trained - start) / 1e9));
            epochs.add(epoch);
            boolean improved = best == null || epoch.valLoss() < best.valLoss();
            if (improved) {
                best = epoch;
                bestParams = net.params().dup();
                sinceBest = 0;
            } else {
                sinceBest++;
            }
            State state = new State(cache.data().classNames(), epochs, best.epoch(), sinceBest);
            if (improved) checkpoint(net, "best.zip", state);
            checkpoint(net, "last.zip", state);
            long end = System.nanoTime();
            secondsSoFar += (end - start) / 1e9;
            int left = options.epochs() - e;
            out.printf("epoch %3d/%d  loss %.4f  val_loss %.4f  val_acc %.3f  lr %.2e  %.1f s (train %.1f, validate %.1f%s), %.1f images/s%s%s%n",
                    e, options.epochs(), epoch.trainLoss(), epoch.valLoss(), epoch.valAccuracy(), lr, (end - start) / 1e9,
                    (trained - start) / 1e9, (validated - trained) / 1e9,
                    options.checkpoints() == null ? "" : String.format(", checkpoint %.1f", (end - validated) / 1e9),
                    epoch.imagesPerSecond(), left > 0 ? ", eta " + duration(secondsSoFar / (e - first + 1) * left) : "",
                    improved ? "  *best" : "");
            out.flush();
            if (sinceBest >= options.patience()) {
                out.printf("early stop: validation loss has not improved for %d epochs; best was epoch %d%n", sinceBest, best.epoch());
                stoppedEarly = true;
                break;
            }
        }
        net.setParams(bestParams);
        return new Outcome(List.copyOf(epochs), best, validation, stoppedEarly);
    }

    /** The updater's learning rate for the next step (the same for every layer). */
    static double currentLearningRate(MultiLayerNetwork net) {
        for (org.deeplearning4j.nn.api.Layer l : net.getLayers()) {
            if (l.numParams() == 0 || l instanceof org.deeplearning4j.nn.layers.FrozenLayer) continue;
            if (l.conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.BaseLayer b) {
                return b.getIUpdater().getLearningRate(net.getIterationCount(), net.getEpochCount());
            }
        }
        return Double.NaN;
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s < 60 ? s + "s" : s < 3600 ? (s / 60) + "m" + String.format("%02d", s % 60) + "s"
                : (s / 3600) + "h" + String.format("%02d", s / 60 % 60) + "m";
    }

    /**
     * Puts a checkpoint into {@code net}, built from this run's options (so the learning-rate schedule is this
     * run's): its weights, Adam's state and the step and epoch counts, after checking the two are the same
     * network. Returns its state and the best epoch's weights (from {@code best.zip} beside it, when the
     * checkpoint is not the best).
     */
    static Resumed restoreInto(MultiLayerNetwork net, Path checkpoint) throws IOException {
        State state = stateOf(checkpoint);
        MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(checkpoint.toFile(), true);
        String mismatch = mismatch(net, restored);
        if (mismatch != null) {
            throw new IllegalArgumentException(checkpoint + " is another network than these options make (" + mismatch
                    + "): give the options it was trained with (--width, --head, --pool, --input-size, --batch-norm, --init, --fine-tune-base)");
        }
        net.setParams(restored.params());
        if (net.getUpdater().getStateViewArray() != null) net.getUpdater().getStateViewArray().assign(restored.getUpdater().getStateViewArray());
        net.setIterationCount(restored.getIterationCount());
        net.setEpochCount(restored.getEpochCount());
        if (state.bestEpoch() == state.epochs().getLast().epoch()) return new Resumed(state, restored.params().dup());
        if (state.bestEpoch() == state.epochs().getLast().epoch()) return new Resumed(state, restored.params().dup());
        Path best = checkpoint.toAbsolutePath().resolveSibling("best.zip");
        State bestState = Files.isRegularFile(best) ? stateOf(best) : null;
        if (bestState == null || bestState.epochs().getLast().epoch() != state.bestEpoch()) {
            throw new IllegalArgumentException(checkpoint + ": its best epoch, " + state.bestEpoch() + ", is not in " + best
                    + (bestState == null ? " (missing)" : " (that holds epoch " + bestState.epochs().getLast().epoch() + ")"));
        }
        return new Resumed(state, ModelSerializer.restoreMultiLayerNetwork(best.toFile(), false).params().dup());
    }

    /** The first difference in layers, parameter shapes or optimizer state between two networks; null if none. */
    private static String mismatch(MultiLayerNetwork a, MultiLayerNetwork b) {
        if (a.getnLayers() != b.getnLayers()) return a.getnLayers() + " layers here, " + b.getnLayers() + " there";
        for (int i = 0; i < a.getnLayers(); i++) {
            var la = a.getLayer(i).conf().getLayer();
            var lb = b.getLayer(i).conf().getLayer();
            if (la.getClass() != lb.getClass()) {
                return "layer " + i + " is a " + la.getClass().getSimpleName() + " here, a " + lb.getClass().getSimpleName() + " there";
            }
            var pa = a.getLayer(i).paramTable();
            var pb = b.getLayer(i).paramTable();
            if (!pa.keySet().equals(pb.keySet())) return "layer " + i + " has parameters " + pa.keySet() + " here, " + pb.keySet() + " there";
            for (String k : pa.keySet()) {
                if (!Arrays.equals(pa.get(k).shape(), pb.get(k).shape())) {
                    return "layer " + i + " " + k + " is " + Arrays.toString(pa.get(k).shape()) + " here, " + Arrays.toString(pb.get(k).shape()) + " there";
                }
            }
        }
        INDArray ua = a.getUpdater().getStateViewArray(), ub = b.getUpdater().getStateViewArray();
        if ((ua == null) != (ub == null) || ua != null && ua.length() != ub.length()) return "the optimizer's state differs (frozen layers?)";
        return null;
    }

    private static State stateOf(Path checkpoint) throws IOException {
        try {
            String json = ModelSerializer.getObjectFromFile(checkpoint.toFile(), State.KEY);
            return State.of(json);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(checkpoint + " is not a checkpoint of snapscore train (" + e.getMessage() + ")", e);
        }
    }

    /** Validation loss (mean cross-entropy, no dropout) and accuracy. */
    static double[] evaluate(MultiLayerNetwork net, Batches batches, int[] indices, int batch) {
        double loss = 0;
        int correct = 0;
        for (int b = 0; b < indices.length; b += batch) {
            int[] idx = Arrays.copyOfRange(indices, b, Math.min(indices.length, b + batch));
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

    private void checkpoint(MultiLayerNetwork net, String name, State state) throws IOException {
        if (options.checkpoints() != null) write(net, state, options.checkpoints().resolve(name));
    }

    /**
     * The network with its updater (Adam's moments, so training continues where it was) and the state.
     * Written beside, then moved over the old one: a crash mid-write leaves the previous checkpoint.
     */
    static void write(MultiLayerNetwork net, State state, Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        String name = file.getFileName().toString();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + name, ".part");
        try {
            ModelSerializer.writeModel(net, tmp.toFile(), true);
            ModelSerializer.addObjectToFile(tmp.toFile(), State.KEY, state.json());
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
