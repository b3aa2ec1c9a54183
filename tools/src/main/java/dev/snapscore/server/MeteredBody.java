package dev.snapscore.server;

import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.util.thread.Scheduler;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A request body read through the body budget as it arrives: bytes beyond what the request reserved up front
 * (its declared length; nothing for a chunked body) are reserved chunk by chunk. Past the largest body, or when
 * the budget cannot take a chunk, it ends in a {@link Refused} failure (413 or 503) instead of delivering it,
 * so that neither a chunked upload nor a multipart parser reading from it can hold more than the budget allows.
 * <p>With a minimum rate, every window of the upload (the first one included: it is the grace period) must bring
 * at least {@code rate × window} bytes, or the request's reads fail with {@link TooSlow}: the idle timeout restarts
 * with every byte, so without it a body trickled a byte just under every idle timeout would hold its connection
 * and its share of the budget for ever. (Jetty's {@code MinimumDataRateHandler} measures the bytes of all requests
 * together, so one fast upload hides any number of slow ones; hence this.) Close it once the body is read.
 */
final class MeteredBody implements Content.Source, AutoCloseable {
    /** Why a body was refused part way: {@code status} 413 (too large) or 503 (the budget is full). */
    static final class Refused extends IOException {
        private final int status;

        Refused(int status, String message) {
            super(message);
            this.status = status;
        }

        int status() {
            return status;
        }
    }

    /** A body that arrived more slowly than the minimum rate (a timeout, like a stall past the idle timeout). */
    static final class TooSlow extends TimeoutException {
        TooSlow(String message) {
            super(message);
        }
    }

    private final Content.Source body;
    private final BodyBudget.Reservation reservation;
    private final long maxBytes;
    private long covered;
    private volatile long read;
    private volatile boolean done;
    private Content.Chunk refused;
    // The rate check, run by the scheduler only.
    private final Scheduler scheduler;
    private final long minBytesPerWindow, windowNanos;
    private long readAtLastCheck;
    private volatile Scheduler.Task check;

    /**
     * {@code reserved}: bytes {@code reservation} already holds for this body; {@code minBytesPerSecond}: 0 for no
     * minimum rate, else measured over consecutive windows of {@code window} on {@code scheduler}.
     */
    MeteredBody(Content.Source body, BodyBudget.Reservation reservation, long reserved, long maxBytes, long minBytesPerSecond,
                Duration window, Scheduler scheduler) {
        this.body = body;
        this.reservation = reservation;
        this.covered = reserved;
        this.maxBytes = maxBytes;
        this.scheduler = scheduler;
        this.windowNanos = window.toNanos();
        this.minBytesPerWindow = (long) Math.ceil(minBytesPerSecond * (window.toNanos() / 1e9));
        if (minBytesPerSecond > 0) check = scheduler.schedule(this::checkRate, windowNanos, TimeUnit.NANOSECONDS);
    }

    private void checkRate() {
        if (done) return;
        long now = read;
        if (now - readAtLastCheck < minBytesPerWindow) {
            done = true;
            // Fails the request's reads: a reader waiting for bytes wakes up to the failure.
            body.fail(new TooSlow("the body arrived at fewer than " + minBytesPerWindow + " bytes in " + windowNanos / 1_000_000 + " ms"));
            return;
        }
        readAtLastCheck = now;
        check = scheduler.schedule(this::checkRate, windowNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public Content.Chunk read() {
        if (refused != null) return refused;
        Content.Chunk chunk = body.read();
        if (chunk == null || Content.Chunk.isFailure(chunk)) return chunk;
        long total = read + chunk.remaining();
        read = total;
        if (chunk.isLast() || total == body.getLength()) done = true;
        Refused why = null;
        if (total > maxBytes) {
            why = new Refused(413, "body exceeds the limit of " + maxBytes + " bytes");
        } else if (total > covered) {
            if (reservation.grow(total - covered)) covered = total;
            else why = new Refused(503, "too many uploads in flight; retry later");
        }
        if (why == null) return chunk;
        chunk.release();
        refused = Content.Chunk.from(why, true);
        return refused;
    }

    @Override
    public void demand(Runnable demandCallback) {
        if (refused != null) demandCallback.run();
        else body.demand(demandCallback);
    }

    @Override
    public void fail(Throwable failure) {
        body.fail(failure);
    }

    @Override
    public void fail(Throwable failure, boolean last) {
        body.fail(failure, last);
    }

    @Override
    public long getLength() {
        return body.getLength();
    }

    /** Stops the rate check: the body has been read, or given up on. */
    @Override
    public void close() {
        done = true;
        Scheduler.Task task = check;
        if (task != null) task.cancel();
    }
}
