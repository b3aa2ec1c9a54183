package dev.snapscore.server;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Bytes of request bodies the server may hold at once. A request reserves before it reads (its declared
 * length, or chunk by chunk when it has none) and releases when it is answered, so that many concurrent
 * large uploads are refused with 503 instead of exhausting the heap. Thread-safe.
 */
final class BodyBudget {
    private final long limit;
    private final AtomicLong used = new AtomicLong();

    BodyBudget(long limit) {
        if (limit < 1) throw new IllegalArgumentException("the body budget must be >= 1 byte, got " + limit);
        this.limit = limit;
    }

    /** Takes {@code bytes} if they fit, else takes nothing and returns false. */
    boolean tryReserve(long bytes) {
        long now;
        do {
            now = used.get();
            if (now + bytes > limit) return false;
        } while (!used.compareAndSet(now, now + bytes));
        return true;
    }

    void release(long bytes) {
        used.addAndGet(-bytes);
    }

    long used() {
        return used.get();
    }

    long limit() {
        return limit;
    }
}
