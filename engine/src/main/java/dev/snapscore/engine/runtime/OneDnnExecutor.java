package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.dnnl.DnnlStream;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * Runs a {@link OneDnnNetwork} with working memory of its own: a stream, one {@link Workspace} for the
 * activations of every batch size, and small per-batch-size buffers. Not thread-safe: one thread at a time (the public {@code Session} serialises calls).
 */
public final class OneDnnExecutor implements AutoCloseable {
    private final OneDnnNetwork network;
    private final int threads;
    private final Arena arena = Arena.ofShared();
    private final DnnlStream stream;
    private final Map<Integer, PlanBuffers> buffers = new HashMap<>();
    private Workspace workspace = Workspace.empty();
    private boolean warmedUp;
    private boolean closed;

    OneDnnExecutor(OneDnnNetwork network, int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.network = network;
        this.threads = threads;
        this.stream = DnnlStream.create(network.engine());
    }

    /**
     * Runs {@code n} images from {@code input} ((n, C, H, W) f32 in the spec's input layout, NCHW or NHWC; any segment, heap or native) and
     * copies the logits and probabilities, (n, classes) row-major, into the given arrays.
     */
    public void run(MemorySegment input, int n, float[] logitsOut, float[] probsOut) {
        PlanBuffers b = buffers(n);
        MemorySegment src = nativeInput(b, input, n);
        Dnnl.setThreadsForCurrentThread(threads);
        b.run(stream, src);
        int values = n * network.spec().classes();
        MemorySegment.copy(b.logits, JAVA_FLOAT, 0, logitsOut, 0, values);
        MemorySegment.copy(b.probs, JAVA_FLOAT, 0, probsOut, 0, values);
    }

    /**
     * Runs {@code n} images from {@code input} like {@link #run}, step by step, showing each step's output to
     * {@code observer}: for calibration and debugging, not for speed.
     */
    public void runObserved(MemorySegment input, int n, StepObserver observer) {
        PlanBuffers b = buffers(n);
        MemorySegment src = nativeInput(b, input, n);
        Dnnl.setThreadsForCurrentThread(threads);
        b.run(stream, src, observer);
    }

    /** {@code input} itself when oneDNN can read it in place, else a copy in the plan's staging buffer. */
    private MemorySegment nativeInput(PlanBuffers b, MemorySegment input, int n) {
        long bytes = b.inputStaging.byteSize();
        if (input.byteSize() < bytes) {
            throw new IllegalArgumentException("input holds " + input.byteSize() + " bytes; " + n + " images of "
                    + network.spec().input() + " need " + bytes);
        }
        if (input.isNative() && input.address() % Float.BYTES == 0) return input;
        return b.inputStaging.copyFrom(input.asSlice(0, bytes));
    }

    /**
     * Builds the plan and buffers for batches of {@code n} now, not on the first run; with AUTO convolutions, also
     * times every batch size up to {@code n} that needs it ({@link OneDnnNetwork#timeUpTo}). The first call also
     * runs the batch-1 plan's first step, so that the first real run is as fast as later ones.
     */
    public void prepare(int n) {
        network.timeUpTo(n, threads);
        buffers(n);
        if (!warmedUp) {
            // What a first run still pays beyond a warm one, measured on VGG16 (plan-cache hit and no cache): starting
            // this thread's OpenMP team and linking the execute downcall, which one step pays as well as the whole
            // image this used to run (100-180 ms of an f32 load). Page faults are paid already: the load read the
            // weights (checksums or reorders) and the workspace was zero-filled when allocated.
            PlanBuffers one = buffers(1);
            Dnnl.setThreadsForCurrentThread(threads);
            one.runFirstStep(stream, one.inputStaging);
            warmedUp = true;
        }
    }

    private PlanBuffers buffers(int n) {
        if (closed) throw new IllegalStateException("session is closed");
        PlanBuffers known = buffers.get(n);
        if (known != null) return known;
        NetworkPlan plan = network.plan(n, threads);
        if (!workspace.fits(plan)) {
            Workspace bigger = workspace.grownFor(plan);
            for (PlanBuffers b : buffers.values()) b.moveTo(bigger);
            workspace.close();
            workspace = bigger;
        }
        PlanBuffers b = new PlanBuffers(network.engine(), plan, arena, workspace);
        buffers.put(n, b);
        return b;
    }

    /** Bytes of activation buffers and scratchpad this executor holds, shared by all its batch sizes. */
    long workspaceBytes() {
        return workspace.byteSize();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        buffers.clear();
        stream.close();
        workspace.close();
        arena.close(); // the plans' buffers and memory objects
    }
}
