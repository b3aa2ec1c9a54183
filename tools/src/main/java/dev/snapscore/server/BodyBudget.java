package dev.snapscore.server;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Bytes of request bodies the server may hold at once. Each request holds a {@link Reservation}: its declared
 * length up front, then more as bytes beyond it arrive or as the server copies them, all released when it is
 * answered; so that many concurrent large uploads are refused with 503 instead of exhausting the heap. Thread-safe.
 */
final class BodyBudget {
    private final long limit;
    private final AtomicLong used = new AtomicLong();

    BodyBudget(long limit) {
        if (limit < 1) throw new IllegalArgumentException("the body budget must be >= 1 byte, got " + limit);
        this.limit = limit;
    }

    /** A reservation of {@code bytes} to start with, or null if they do not fit. */
    Reservation open(long bytes) {
        return take(bytes) ? new Reservation(bytes) : null;
    }

    private boolean take(long bytes) {
        long now;
        do {
            now = used.get();
            if (now + bytes > limit) return false;
        } while (!used.compareAndSet(now, now + bytes));
        return true;
    }

    long used() {
        return used.get();
    }

    /** What one request holds, released once when it is answered. */
    final class Reservation implements AutoCloseable {
        private long held;

        private Reservation(long held) {
            this.held = held;
        }

        /** Takes {@code bytes} more if they fit, else takes nothing and returns false. */
        synchronized boolean grow(long bytes) {
            if (!take(bytes)) return false;
            held += bytes;
            return true;
        }

        @Override
        public synchronized void close() {
            used.addAndGet(-held);
            held = 0;
        }
    }
}
