package dev.snapscore.engine.batch;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * Applies a function to a list on worker threads, at most {@code window} items ahead of the consumer,
 * and hands the results back in input order: parallel work, deterministic output, bounded memory.
 * A consumer whose next result is not ready does not wait idle: it runs the first item no worker has
 * started yet itself (each item runs exactly once, on whichever thread claims it first). So with zero
 * workers the consumer does all the work, and with too few it adds its own core instead of waiting.
 */
final class OrderedWorkers<T, R> implements Iterator<R>, AutoCloseable {
    private final ExecutorService pool; // null: no workers, the consumer runs everything
    private final Iterator<T> inputs;
    private final Function<T, R> work;
    private final int window;
    private final Deque<Task> inFlight = new ArrayDeque<>();
    private long waitedNanos;

    /** One item: run by the first thread that claims it, a worker's or the consumer's. */
    private final class Task implements Runnable {
        private final T item;
        private final AtomicBoolean claimed = new AtomicBoolean();
        private final CompletableFuture<R> result = new CompletableFuture<>();

        Task(T item) {
            this.item = item;
        }

        @Override
        public void run() {
            if (!claimed.compareAndSet(false, true)) return;
            try {
                result.complete(work.apply(item));
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        }
    }

    /** @param threads worker threads; 0 runs every item on the consumer's thread, in {@link #next} */
    OrderedWorkers(List<T> inputs, int threads, int window, String threadName, Function<T, R> work) {
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        this.pool = threads == 0 ? null
                : Executors.newFixedThreadPool(threads, Thread.ofPlatform().name(threadName, 0).daemon(true).factory());
        this.inputs = inputs.iterator();
        this.work = work;
        this.window = Math.max(window, Math.max(threads, 1));
        fill();
    }

    private void fill() {
        while (inFlight.size() < window && inputs.hasNext()) {
            Task task = new Task(inputs.next());
            inFlight.add(task);
            if (pool != null) pool.execute(task);
        }
    }

    @Override
    public boolean hasNext() {
        return !inFlight.isEmpty();
    }

    /**
     * The next result in input order; while it is not ready, runs unclaimed items here. {@code work} must
     * turn its own failures into results.
     */
    @Override
    public R next() {
        if (inFlight.isEmpty()) throw new NoSuchElementException();
        Task head = inFlight.peek();
        while (!head.result.isDone() && runOneHere()) {
            // ran an item here; look at the head again
        }
        try {
            if (!head.result.isDone()) {
                long t = System.nanoTime();
                head.result.get(); // every item is claimed: a worker is finishing the head
                waitedNanos += System.nanoTime() - t;
            }
            inFlight.poll();
            R r = head.result.get();
            fill();
            return r;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("worker failed: " + e.getCause(), e.getCause());
        }
    }

    /** Runs the first item (in input order) that no worker has claimed; false when there is none. */
    private boolean runOneHere() {
        for (Task task : inFlight) {
            if (!task.claimed.get()) {
                task.run(); // a no-op if a worker claimed it meanwhile
                return true;
            }
        }
        return false;
    }

    /** Time the consumer spent blocked in {@link #next} with nothing left to run itself. */
    long waitedNanos() {
        return waitedNanos;
    }

    /** Stops the workers and waits for those still running (they may hold native memory). */
    @Override
    public void close() {
        inFlight.forEach(t -> t.claimed.set(true)); // never started now
        if (pool == null) return;
        pool.shutdown();
        try {
            pool.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
