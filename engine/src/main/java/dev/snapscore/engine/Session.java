package dev.snapscore.engine;

import dev.snapscore.engine.runtime.OneDnnExecutor;

import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.photo.PhotoPipeline;
import dev.snapscore.engine.photo.PhotoSource;
import dev.snapscore.engine.photo.PreparedPhoto;
import dev.snapscore.engine.photo.ScoredPhoto;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.nio.FloatBuffer;

/**
 * Runs a {@link Model} with working memory of its own. Thread-safe: calls from several threads are
 * serialised, and give the same results as from one thread. For parallel throughput, give each thread its
 * own session (each with fewer threads).
 */
public final class Session implements AutoCloseable {
    private final Model model;
    /** Photos per run in {@link #score}: enough to keep oneDNN's kernels busy, small enough for latency. */
    private static final int SCORE_BATCH = 8;

    private final OneDnnExecutor executor;
    private boolean closed;

    Session(Model model, OneDnnExecutor executor) {
        this.model = model;
        this.executor = executor;
    }

    public Model model() {
        return model;
    }

    /**
     * Runs {@code n} preprocessed images.
     *
     * @param input (n, C, H, W) f32 in the spec's input layout (NCHW, or NHWC: (n, H, W, C)), sizes from the
     *              model's spec; native or heap
     * @throws IllegalArgumentException if {@code n} is out of range or {@code input} is too small
     * @throws IllegalStateException    if the session or model is closed
     */
    public synchronized Result run(MemorySegment input, int n) {
        if (closed) throw new IllegalStateException("session is closed");
        int max = model.options().maxBatch();
        if (n < 1 || n > max) throw new IllegalArgumentException("batch size must be 1.." + max + ", got " + n);
        int classes = model.spec().classes();
        float[] logits = new float[n * classes], probs = new float[n * classes];
        executor.run(input, n, logits, probs);
        return new Result(n, classes, logits, probs);
    }

    /**
     * Builds what runs of {@code n} images need (the plan, reordered weights, buffers) now rather than on
     * the first such run, e.g. while the first photos are being decoded. With {@link ConvolutionAlgorithm#AUTO}
     * (the default) it also times the convolutions for every batch size up to {@code n} not yet timed on this
     * machine, so no later run of at most {@code n} images waits for that (other sizes' plans are still made on
     * their first run, in tens of milliseconds). The first call on a session also runs the batch-1 plan's first
     * step (on zeros, results discarded): the first run on a thread pays for starting its OpenMP team, and this
     * moves that cost here.
     */
    public synchronized void prepare(int n) {
        if (closed) throw new IllegalStateException("session is closed");
        int max = model.options().maxBatch();
        if (n < 1 || n > max) throw new IllegalArgumentException("batch size must be 1.." + max + ", got " + n);
        executor.prepare(n);
    }

    /** As {@link #run(MemorySegment, int)}, reading from the buffer's position to its limit. */
    public Result run(FloatBuffer input, int n) {
        return run(MemorySegment.ofBuffer(input), n);
    }

    /**
     * Decodes, preprocesses and scores photos, in batches.
     *
     * @throws ImageException naming the first file that cannot be read or decoded
     */
    public List<Prediction> score(List<Path> images) {
        List<Prediction> out = new ArrayList<>(images.size());
        // Made here, not with the session: the first ImageDecoder loads OpenCV (about a second and tens of
        // MB), which sessions that only run tensors never need.
        try (PhotoPipeline pipeline = PhotoPipeline.forModel(model.spec(), ImageDecoder.withDefaults(), DecodeOptions.DEFAULT, null);
             Arena arena = Arena.ofConfined()) {
            int batchSize = Math.min(SCORE_BATCH, Math.max(1, images.size()));
            MemorySegment batch = arena.allocate(batchSize * model.spec().input().elements() * Float.BYTES, 64);
            for (int first = 0; first < images.size(); first += batchSize) {
                List<PreparedPhoto> photos = new ArrayList<>(batchSize);
                for (int i = 0; i < Math.min(batchSize, images.size() - first); i++) {
                    PreparedPhoto p = pipeline.prepare(PhotoSource.of(images.get(first + i)), batch, i);
                    if (p.failure() != null) throw p.failure();
                    photos.add(p);
                }
                for (ScoredPhoto s : pipeline.score(this, batch, photos)) out.add(s.prediction());
            }
        }
        return out;
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
            executor.close();
        }
        model.sessionClosed(this);
    }
}
