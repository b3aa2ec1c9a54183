package dev.snapscore.bench;

import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.Result;
import dev.snapscore.engine.Session;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/** snapscore: its own format (memory-mapped) when the directory has one, else the ONNX file, run as the options say. */
final class SnapscoreEngine implements InferenceEngine {
    private final Model model;
    private final Session session;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment input;
    private final int batch;

    SnapscoreEngine(Path modelDir, int batch, int threads, ModelOptions options) {
        // The session's threads in the options too: the load plans (with auto, times) batch 1 for the model's threads.
        this.model = Model.load(Files.exists(modelDir.resolve("spec.json")) ? modelDir : modelDir.resolve("model.onnx"),
                options.withThreads(threads));
        this.session = model.newSession(threads);
        this.batch = batch;
        float[] x = InferenceEngine.randomImages(batch, (int) model.spec().input().elements());
        input = arena.allocate(x.length * 4L, 64);
        MemorySegment.copy(x, 0, input, JAVA_FLOAT, 0, x.length);
        session.prepare(batch);
    }

    @Override
    public Object infer() {
        return session.run(input, batch);
    }

    @Override
    public Outputs outputs() {
        Result r = session.run(input, batch);
        return new Outputs(r.logits(), r.probabilities());
    }

    @Override
    public void close() {
        session.close();
        model.close();
        arena.close();
    }
}
