package dev.snapscore.engine;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelFormats;
import dev.snapscore.engine.runtime.OneDnnNetwork;
import dev.snapscore.engine.runtime.PlanCache;
import dev.snapscore.engine.spec.ModelSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A VGG-family classifier ready to run on oneDNN: weights memory-mapped (or read from ONNX) and
 * reordered once into the layouts the CPU kernels want.
 *
 * <pre>{@code
 * try (Model model = Model.load(Path.of("models/vgg-mini"));
 *      Session session = model.newSession()) {
 *     Result r = session.run(input, n);
 * }
 * }</pre>
 *
 * <p>Thread-safe: any number of threads may create sessions. Closing the model closes its open sessions
 * (waiting for runs in progress) and frees all native memory.
 */
public final class Model implements AutoCloseable {
    private final LoadedModel loaded;
    private final ModelOptions options;
    private final OneDnnNetwork network;
    private final Set<Session> sessions = new LinkedHashSet<>();
    private boolean closed;

    private Model(LoadedModel loaded, ModelOptions options, PlanCache cache) {
        this.loaded = loaded;
        this.options = options;
        try {
            this.network = new OneDnnNetwork(loaded.spec(), loaded.weights(), options, cache);
        } catch (RuntimeException e) {
            loaded.close();
            throw e;
        }
    }

    /**
     * Loads a model: an {@code .onnx} file, or a snapscore model directory (spec.json + safetensors weights,
     * memory-mapped).
     *
     * @throws ModelFormatException if the path is missing, unreadable, inconsistent or unsupported
     */
    public static Model load(Path path) {
        return load(path, ModelOptions.defaults());
    }

    /**
     * As {@link #load(Path)}, run as {@code options} say.
     *
     * @throws ModelFormatException     if the path is missing, unreadable, inconsistent or unsupported
     * @throws IllegalArgumentException if the options ask for what this CPU or model cannot do (bf16 without
     *                                  bf16 instructions, or on an int8 model)
     */
    public static Model load(Path path, ModelOptions options) {
        // oneDNN's bindings (its libraries and ~40 FFM downcall handles) take about 0.5 s to set up in a
        // fresh JVM, and reading the model (Jackson's first use) about as long: on two threads they overlap.
        CompletableFuture<Boolean> bindings = CompletableFuture.supplyAsync(Dnnl::hasInt8Vnni);
        LoadedModel loaded = ModelFormats.read(path);
        try {
            bindings.join();
        } catch (CompletionException e) {
            loaded.close();
            // The bindings' own error (e.g. oneDNN's library missing), not the wrappers around it.
            Throwable cause = e.getCause() instanceof ExceptionInInitializerError init ? init.getCause() : e.getCause();
            if (cause instanceof RuntimeException r) throw r;
            if (cause instanceof Error err) throw err;
            throw e;
        }
        PlanCache cache;
        try {
            cache = PlanCaches.open(path, loaded, options);
        } catch (RuntimeException e) {
            loaded.close();
            throw e;
        }
        return new Model(loaded, options, cache);
    }

    /**
     * Wraps a model already read into memory (for example generated, or built by a test). The model takes
     * ownership of {@code loaded} and closes it.
     */
    public static Model of(LoadedModel loaded) {
        return of(loaded, ModelOptions.defaults());
    }

    /** As {@link #of(LoadedModel)}, run as {@code options} say. */
    public static Model of(LoadedModel loaded, ModelOptions options) {
        return new Model(loaded, options, null); // no file, so no plan cache
    }

    public ModelSpec spec() {
        return loaded.spec();
    }

    public ModelOptions options() {
        return options;
    }

    /** Whether the model's f32 layers run in bf16 (asked for, or chosen by {@link Precision#AUTO}). */
    public boolean runsBf16() {
        return network.bf16();
    }

    /**
     * How this model used its plan cache: tensors mapped from it, tensors built, whether it was (re)written, and why
     * a file was refused; null when the model has none ({@link ModelOptions#cache()} off, or made by {@link #of}).
     */
    public PlanCache.Report planCache() {
        return network.cacheReport();
    }

    /** A session running on {@link ModelOptions#threads()} threads (every core by default). */
    public Session newSession() {
        return newSession(options.threads());
    }

    /** A session whose runs use {@code threads} oneDNN (OpenMP) threads. */
    public synchronized Session newSession(int threads) {
        if (closed) throw new IllegalStateException("model is closed");
        Session s = new Session(this, network.newExecutor(threads));
        sessions.add(s);
        return s;
    }

    synchronized void sessionClosed(Session s) {
        sessions.remove(s);
    }

    /** oneDNN's implementation name for each step at {@code batch}, in execution order. */
    public java.util.Map<String, String> implementations(int batch) {
        return network.implementations(batch);
    }

    @Override
    public void close() {
        ArrayList<Session> open;
        synchronized (this) {
            if (closed) return;
            closed = true;
            open = new ArrayList<>(sessions);
        }
        for (Session s : open) s.close();
        network.close();
        loaded.close();
    }
}
