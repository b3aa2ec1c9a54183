package dev.snapscore.engine.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An executor's large working memory, shared by its plans for every batch size: the two ping-pong
 * activation buffers, the scratchpad, and the two buffers of Winograd convolutions' intermediate results. An executor runs one plan at a time, so one set sized for its
 * largest plan serves all of them; per-size sets would add up (VGG16: 26 MB of activations per image, so
 * batches 1 to 8 would hold 0.9 GB instead of 0.2 GB).
 */
final class Workspace implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    final MemorySegment ping, pong, scratchpad, winogradA, winogradB;

    private Workspace(long pingPongBytes, long scratchpadBytes, long winogradABytes, long winogradBBytes) {
        ping = allocate(pingPongBytes);
        pong = allocate(pingPongBytes);
        scratchpad = allocate(scratchpadBytes);
        winogradA = allocate(winogradABytes);
        winogradB = allocate(winogradBBytes);
    }

    private MemorySegment allocate(long bytes) {
        return arena.allocate(Math.max(bytes, 1), 64);
    }

    /** A workspace that holds nothing yet. */
    static Workspace empty() {
        return new Workspace(0, 0, 0, 0);
    }

    /** A workspace just big enough for {@code plan}. */
    static Workspace of(NetworkPlan plan) {
        return of(plan, plan);
    }

    /** A workspace just big enough for either plan, run one at a time. */
    static Workspace of(NetworkPlan a, NetworkPlan b) {
        return new Workspace(Math.max(a.pingPongBytes, b.pingPongBytes), Math.max(a.scratchpadBytes, b.scratchpadBytes),
                Math.max(a.winogradABytes, b.winogradABytes), Math.max(a.winogradBBytes, b.winogradBBytes));
    }

    boolean fits(NetworkPlan plan) {
        return plan.pingPongBytes <= ping.byteSize() && plan.scratchpadBytes <= scratchpad.byteSize()
                && plan.winogradABytes <= winogradA.byteSize() && plan.winogradBBytes <= winogradB.byteSize();
    }

    /** A new workspace big enough for this one's plans and {@code plan}; the caller re-points them and closes this. */
    Workspace grownFor(NetworkPlan plan) {
        return new Workspace(Math.max(ping.byteSize(), plan.pingPongBytes), Math.max(scratchpad.byteSize(), plan.scratchpadBytes),
                Math.max(winogradA.byteSize(), plan.winogradABytes), Math.max(winogradB.byteSize(), plan.winogradBBytes));
    }

    long byteSize() {
        return ping.byteSize() + pong.byteSize() + scratchpad.byteSize() + winogradA.byteSize() + winogradB.byteSize();
    }

    @Override
    public void close() {
        arena.close();
    }
}
