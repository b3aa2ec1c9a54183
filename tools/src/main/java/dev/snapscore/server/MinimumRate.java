package dev.snapscore.server;

import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.util.thread.Scheduler;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A minimum rate for a request body: every window of the upload (the first one included: it is the grace
 * period) must bring at least {@code rate × window} bytes, or the body's reads fail with {@link TooSlow}, which
 * wakes a reader waiting for bytes. Jetty's idle timeout restarts with every byte, so without it a body trickled
 * a byte just under every idle timeout would hold its connection (and its share of the body budget) for ever.
 * (Jetty's {@code MinimumDataRateHandler} divides the bytes of all requests together by one request's time, so
 * one fast upload hides any number of slow ones; hence this.) The reader reports what it read with
 * {@link #read}; close it once the body is read or given up on.
 */
final class MinimumRate implements AutoCloseable {
    /** A body that arrived more slowly than the minimum rate (a timeout, like a stall past the idle timeout). */
    static final class TooSlow extends TimeoutException {
        TooSlow(String message) {
            super(message);
        }
    }

    private final Content.Source body;
    private final Scheduler scheduler;
    private final long minBytesPerWindow, windowNanos;
    private volatile long read;
    private volatile boolean done;
    // Read and written by the scheduler's checks only.
    private long readAtLastCheck;
    private volatile Scheduler.Task check;

    /** {@code bytesPerSecond} 0: no minimum. */
    MinimumRate(Content.Source body, long bytesPerSecond, Duration window, Scheduler scheduler) {
        this.body = body;
        this.scheduler = scheduler;
        this.windowNanos = window.toNanos();
        this.minBytesPerWindow = (long) Math.ceil(bytesPerSecond * (windowNanos / 1e9));
        if (bytesPerSecond > 0) check = scheduler.schedule(this::check, windowNanos, TimeUnit.NANOSECONDS);
    }

    /** Counts {@code bytes} more read (by the one thread reading the body); {@code last}: the body is complete. */
    void read(long bytes, boolean last) {
        read += bytes;
        if (last) done = true;
    }

    private void check() {
        if (done) return;
        long now = read;
        if (now - readAtLastCheck < minBytesPerWindow) {
            done = true;
            body.fail(new TooSlow("the body arrived at fewer than " + minBytesPerWindow + " bytes in " + windowNanos / 1_000_000 + " ms"));
            return;
        }
        readAtLastCheck = now;
        check = scheduler.schedule(this::check, windowNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void close() {
        done = true;
        Scheduler.Task task = check;
        if (task != null) task.cancel();
    }
}
