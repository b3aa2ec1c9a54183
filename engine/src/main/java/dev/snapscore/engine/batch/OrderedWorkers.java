package dev.snapscore.engine.batch;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;

/**
 * Applies a function to a list on worker threads, at most {@code window} items ahead of the consumer,
 * and hands the results back in input order: parallel work, deterministic output, bounded memory.
 */
final class OrderedWorkers<T, R> implements Iterator<R>, AutoCloseable {
    private final ExecutorService pool;
    private final Iterator<T> inputs;
    private final Function<T, R> work;
    private final int window;
    private final Deque<Future<R>> inFlight = new ArrayDeque<>();

    OrderedWorkers(List<T> inputs, int threads, int window, String threadName, Function<T, R> work) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.pool = Executors.newFixedThreadPool(threads, Thread.ofPlatform().name(threadName, 0).daemon(true).factory());
        this.inputs = inputs.iterator();
        this.work = work;
        this.window = Math.max(window, threads);
        fill();
    }

    private void fill() {
        while (inFlight.size() < window && inputs.hasNext()) {
            T item = inputs.next();
            inFlight.add(pool.submit(() -> work.apply(item)));
        }
    }

    @Override
    public boolean hasNext() {
        return !inFlight.isEmpty();
    }

    /** The next result in input order; {@code work} must turn its own failures into results. */
    @Override
    public R next() {
        if (inFlight.isEmpty()) throw new NoSuchElementException();
        Future<R> head = inFlight.poll();
        try {
            R r = head.get();
            fill();
            return r;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("worker failed: " + e.getCause(), e.getCause());
        }
    }

    /** Stops the workers and waits for those still running (they may hold native memory). */
    @Override
    public void close() {
        inFlight.forEach(f -> f.cancel(false));
        pool.shutdown();
        try {
            pool.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
