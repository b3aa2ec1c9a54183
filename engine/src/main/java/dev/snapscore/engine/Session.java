package dev.snapscore.engine;

import dev.snapscore.engine.runtime.OneDnnExecutor;
import dev.snapscore.engine.runtime.OneDnnNetwork;

import java.lang.foreign.MemorySegment;
import java.nio.FloatBuffer;

/**
 * Runs a {@link Model} with working memory of its own. Thread-safe: calls from several threads are
 * serialised, and give the same results as from one thread. For parallel throughput, give each thread its
 * own session (each with fewer threads).
 */
public final class Session implements AutoCloseable {
    private final Model model;
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
     * @param input (n, C, H, W) f32 in NCHW order, C, H, W from the model's spec; native or heap
     * @throws IllegalArgumentException if {@code n} is out of range or {@code input} is too small
     * @throws IllegalStateException    if the session or model is closed
     */
    public synchronized Result run(MemorySegment input, int n) {
        if (closed) throw new IllegalStateException("session is closed");
        if (n < 1 || n > OneDnnNetwork.MAX_BATCH) {
            throw new IllegalArgumentException("batch size must be 1.." + OneDnnNetwork.MAX_BATCH + ", got " + n);
        }
        int classes = model.spec().classes();
        float[] logits = new float[n * classes], probs = new float[n * classes];
        executor.run(input, n, logits, probs);
        return new Result(n, classes, logits, probs);
    }

    /** As {@link #run(MemorySegment, int)}, reading from the buffer's position to its limit. */
    public Result run(FloatBuffer input, int n) {
        return run(MemorySegment.ofBuffer(input), n);
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
