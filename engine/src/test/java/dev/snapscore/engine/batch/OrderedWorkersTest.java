package dev.snapscore.engine.batch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The consumer runs unstarted items itself while it waits: every item exactly once, results in order. */
class OrderedWorkersTest {
    private static final List<Integer> ITEMS = IntStream.range(0, 200).boxed().toList();

    /** Runs every item through {@code workers}, counting how often each ran and on which thread. */
    private static List<Integer> drain(OrderedWorkers<Integer, Integer> workers) {
        List<Integer> out = new ArrayList<>();
        while (workers.hasNext()) out.add(workers.next());
        return out;
    }

    @Test
    @Timeout(20)
    void withoutWorkersTheConsumerRunsEveryItemOnceInOrder() {
        Thread consumer = Thread.currentThread();
        var runs = new ConcurrentHashMap<Integer, AtomicInteger>();
        var elsewhere = new AtomicInteger();
        try (var workers = new OrderedWorkers<>(ITEMS, 0, 8, "test-", (Integer i) -> {
            runs.computeIfAbsent(i, k -> new AtomicInteger()).incrementAndGet();
            if (Thread.currentThread() != consumer) elsewhere.incrementAndGet();
            return i * 3;
        })) {
            assertEquals(ITEMS.stream().map(i -> i * 3).toList(), drain(workers));
            assertEquals(0, workers.waitedNanos(), "nothing to wait for without workers");
        }
        assertEquals(ITEMS.size(), runs.size());
        runs.forEach((i, n) -> assertEquals(1, n.get(), "item " + i));
        assertEquals(0, elsewhere.get());
    }

    /**
     * Every item on a worker blocks until the consumer has run one itself: a consumer that only waited for
     * the worker would never finish (the timeout fails the test).
     */
    @Test
    @Timeout(20)
    void aWaitingConsumerRunsItemsItself() {
        Thread consumer = Thread.currentThread();
        CountDownLatch consumerRan = new CountDownLatch(1);
        var runs = new ConcurrentHashMap<Integer, AtomicInteger>();
        var onConsumer = new AtomicInteger();
        try (var workers = new OrderedWorkers<>(ITEMS, 1, 6, "test-", (Integer i) -> {
            runs.computeIfAbsent(i, k -> new AtomicInteger()).incrementAndGet();
            if (Thread.currentThread() == consumer) {
                onConsumer.incrementAndGet();
                consumerRan.countDown();
            } else {
                try {
                    if (!consumerRan.await(10, TimeUnit.SECONDS)) throw new AssertionError("the consumer never helped");
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            }
            return -i;
        })) {
            assertEquals(ITEMS.stream().map(i -> -i).toList(), drain(workers));
        }
        assertEquals(ITEMS.size(), runs.size());
        runs.forEach((i, n) -> assertEquals(1, n.get(), "item " + i + " ran " + n + " times"));
        assertTrue(onConsumer.get() >= 1);
    }

    /** Many workers racing the consumer for the same items: still each exactly once, in order. */
    @Test
    @Timeout(20)
    void workersAndConsumerNeverRunAnItemTwice() {
        var runs = new ConcurrentHashMap<Integer, AtomicInteger>();
        List<Integer> many = IntStream.range(0, 5000).boxed().toList();
        try (var workers = new OrderedWorkers<>(many, 3, 16, "test-", (Integer i) -> {
            runs.computeIfAbsent(i, k -> new AtomicInteger()).incrementAndGet();
            return i + 1;
        })) {
            assertEquals(many.stream().map(i -> i + 1).toList(), drain(workers));
        }
        assertEquals(many.size(), runs.size());
        runs.forEach((i, n) -> assertEquals(1, n.get(), "item " + i));
    }

    @Test
    @Timeout(20)
    void aFailingItemFailsNextWithItsCause() {
        try (var workers = new OrderedWorkers<>(ITEMS, 0, 4, "test-", (Integer i) -> {
            if (i == 2) throw new IllegalArgumentException("bad item 2");
            return i;
        })) {
            assertEquals(0, workers.next());
            assertEquals(1, workers.next());
            var e = assertThrows(IllegalStateException.class, workers::next);
            assertTrue(e.getMessage().contains("bad item 2"), e.getMessage());
        }
    }

    @Test
    void negativeWorkersAreRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> new OrderedWorkers<>(ITEMS, -1, 4, "test-", (Integer i) -> i));
        assertTrue(e.getMessage().contains("-1"));
    }
}
