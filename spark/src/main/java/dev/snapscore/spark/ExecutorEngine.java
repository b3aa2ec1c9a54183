package dev.snapscore.spark;

import dev.snapscore.engine.Model;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.photo.PhotoPipeline;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What one executor JVM holds for every task it runs: each model loaded once (memory-mapped weights,
 * reordered weights, compiled plans), a pool of sessions with their batch buffers, and its photo pipelines
 * (with their face detectors).
 *
 * <p>A JVM-wide holder is the point here: Spark gives a task no object that outlives it, and loading a
 * model per task or per partition would cost a load (a VGG16 is 275 MB of weights to reorder) per few
 * dozen photos. A task leases a session for the partition it is scoring and gives it back when it ends;
 * an executor running k tasks at once ends up with k sessions, each with {@code spark.task.cpus} oneDNN
 * threads, so k × task.cpus = the executor's cores and nothing is oversubscribed. Everything is closed by
 * {@link #closeAll()}, which a shutdown hook calls when the executor exits.
 */
public final class ExecutorEngine {
    private static final AtomicInteger MODEL_LOADS = new AtomicInteger();
    private static final Map<ModelKey, Loaded> MODELS = new ConcurrentHashMap<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(ExecutorEngine::closeAll, "snapscore-executor-engine-close"));
    }

    private ExecutorEngine() {
    }

    /** How many times this JVM has loaded a model (what the tests count). */
    public static int modelLoads() {
        return MODEL_LOADS.get();
    }

    /** Closes every model (and so its sessions and pipelines) this JVM holds; later leases load again. */
    public static synchronized void closeAll() {
        List<Loaded> models = new ArrayList<>(MODELS.values());
        MODELS.clear();
        models.forEach(Loaded::close);
    }

    /**
     * A session of the model at {@code model} (a job's shipped copy, or a path read in place), prepared as
     * {@code preparation} says, with {@code threads} oneDNN threads and a native buffer for {@code batch}
     * preprocessed images; the model is loaded on the first lease in this JVM.
     */
    static Lease lease(Path model, boolean shipped, ModelPreparation preparation, int threads, int batch) {
        ModelKey key = new ModelKey(model.toAbsolutePath().normalize(), preparation);
        Loaded loaded = MODELS.computeIfAbsent(key, k -> Loaded.load(k.path(), preparation.options(shipped)));
        return loaded.lease(threads, batch);
    }

    /** A model file and how it is prepared: one loaded model each. */
    private record ModelKey(Path path, ModelPreparation preparation) {
    }

    /** What a photo pipeline depends on besides the model. */
    private record PipelineKey(long maxBytes, long maxPixels, Cleaning cleaning, DecodeOptions decode) {
    }

    /** One model, its idle sessions keyed by (threads, batch), and its pipelines. */
    private static final class Loaded {
        private final Model model;
        private final Map<Long, Queue<Slot>> idle = new ConcurrentHashMap<>();
        private final Map<PipelineKey, PhotoPipeline> pipelines = new ConcurrentHashMap<>();
        private final List<Slot> all = new ArrayList<>();

        private Loaded(Model model) {
            this.model = model;
        }

        static Loaded load(Path path, ModelOptions options) {
            Model m = Model.load(path, options);
            MODEL_LOADS.incrementAndGet();
            return new Loaded(m);
        }

        Lease lease(int threads, int batch) {
            Queue<Slot> queue = idle.computeIfAbsent(((long) threads << 32) | batch, k -> new ConcurrentLinkedQueue<>());
            Slot slot = queue.poll();
            if (slot == null) {
                Session session = model.newSession(threads);
                Arena arena = Arena.ofShared();
                MemorySegment buffer = arena.allocate(batch * model.spec().input().elements() * Float.BYTES, 64);
                slot = new Slot(session, arena, buffer);
                synchronized (all) {
                    all.add(slot);
                }
            }
            return new Lease(this, slot, queue);
        }

        /** Shared by every task (its face detectors are per thread). */
        PhotoPipeline pipeline(PipelineKey key) {
            return pipelines.computeIfAbsent(key, k -> PhotoPipeline.forModel(model.spec(), new ImageDecoder(k.maxBytes(), k.maxPixels()), k.decode(),
                    k.cleaning() == null ? null : k.cleaning().faceCheck()));
        }

        void close() {
            model.close(); // waits for runs in progress, closes every session
            pipelines.values().forEach(PhotoPipeline::close);
            pipelines.clear();
            synchronized (all) {
                all.forEach(s -> s.arena().close());
                all.clear();
            }
        }
    }

    /** A session and its batch buffer ((batch, C, H, W) f32 in the spec's input layout), used by one task at a time. */
    private record Slot(Session session, Arena arena, MemorySegment buffer) {
    }

    /** A task's use of a slot; closing it (idempotent) returns the slot for the next task. */
    static final class Lease implements AutoCloseable {
        private final Loaded loaded;
        private final Slot slot;
        private final Queue<Slot> home;
        private final AtomicInteger closed = new AtomicInteger();

        private Lease(Loaded loaded, Slot slot, Queue<Slot> home) {
            this.loaded = loaded;
            this.slot = slot;
            this.home = home;
        }

        Session session() {
            return slot.session();
        }

        /** The model's photo pipeline for these size limits, face rule (null: none) and decode options. */
        PhotoPipeline pipeline(long maxBytes, long maxPixels, Cleaning cleaning, DecodeOptions decode) {
            return loaded.pipeline(new PipelineKey(maxBytes, maxPixels, cleaning, decode));
        }

        /** (batch, C, H, W) f32 in the spec's input layout, native. */
        MemorySegment buffer() {
            return slot.buffer();
        }

        @Override
        public void close() {
            if (closed.getAndIncrement() == 0) home.add(slot);
        }
    }
}
