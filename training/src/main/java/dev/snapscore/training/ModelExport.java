package dev.snapscore.training;

import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * A trained DL4J network → the engine's model directory, written by the engine's own writer
 * ({@link ModelDirectory#write}), and checked by the engine itself.
 */
final class ModelExport {
    private ModelExport() {
    }

    /**
     * Writes the model into a fresh folder beside {@code outDir}, then swaps it in: an old model there is
     * replaced whole or, on any failure, left as it was.
     */
    static void write(ModelSpec spec, Weights weights, Path outDir) throws IOException {
        Path abs = outDir.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path fresh = Files.createTempDirectory(abs.getParent(), "." + abs.getFileName() + ".new");
        Path old = abs.resolveSibling("." + abs.getFileName() + ".old");
        try {
            ModelDirectory.write(fresh, spec, weights);
            fresh.toFile().setReadable(true, false);
            if (Files.exists(abs)) {
                if (Files.exists(abs.resolve(ModelDirectory.SPEC_FILE)) || isEmptyDir(abs)) {
                    deleteTree(old);
                    Files.move(abs, old);
                } else {
                    throw new IllegalArgumentException(outDir + " exists and is not a model directory; not replacing it");
                }
            }
            Files.move(fresh, abs);
            deleteTree(old);
        } finally {
            deleteTree(fresh);
        }
    }

    /** What the engine's check found: the verify runs' exit codes and max abs differences. */
    record Check(int exitCode, double probabilities, double logits, String output) {
        boolean passed() {
            return exitCode == 0;
        }
    }

    /**
     * Scores {@code inputs} (N, 3, H, W) with the engine on the exported model, in a child JVM, against
     * DL4J's {@code output()} probabilities (within {@code tolerance}) and its logits (the last layer's input
     * times its weights plus bias, within {@code tolerance} times their largest magnitude: softmax saturates,
     * logits do not hide a difference).
     */
    static Check verify(EngineCli engine, Dl4jOutputs dl4j, Path modelDir, INDArray inputs, double tolerance, Path scratch)
            throws IOException, InterruptedException {
        Path reference = scratch.resolve("export-reference.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            Safetensors.write(reference, List.of(tensor(arena, "input", inputs), tensor(arena, "probabilities", dl4j.probabilities()),
                    tensor(arena, "logits", dl4j.logits())));
        }
        EngineCli.Run p = engine.run("verify", "--model", modelDir.toString(), "--reference", reference.toString(),
                "--output", "probabilities", "--tolerance", Double.toString(tolerance));
        // Logits are unbounded: float rounding grows with their size, so their tolerance is relative to the largest.
        double logitTolerance = tolerance * Math.max(1, dl4j.logits().amaxNumber().doubleValue());
        EngineCli.Run l = engine.run("verify", "--model", modelDir.toString(), "--reference", reference.toString(),
                "--output", "logits", "--tolerance", Double.toString(logitTolerance));
        return new Check(Math.max(p.exitCode(), l.exitCode()), maxAbsDiff(p), maxAbsDiff(l), p.output() + l.output());
    }

    /** DL4J's view of some inputs: softmax probabilities and the logits under them. */
    record Dl4jOutputs(INDArray probabilities, INDArray logits) {
        /** {@code features} already in the network's layout; the last layer with weights gives the logits. */
        static Dl4jOutputs of(org.deeplearning4j.nn.multilayer.MultiLayerNetwork net, INDArray features) {
            List<INDArray> activations = net.feedForward(features, false); // [input, layer 0 out, layer 1 out, ...]
            int last = net.getnLayers() - 1;
            while (net.getLayer(last).numParams() == 0) last--;
            INDArray w = net.getLayer(last).getParam("W"), b = net.getLayer(last).getParam("b");
            INDArray logits = activations.get(last).mmul(w).addiRowVector(b.reshape(b.length()));
            return new Dl4jOutputs(net.output(features, false), logits);
        }
    }

    /** The max abs difference from a verify run's last line. */
    static double maxAbsDiff(EngineCli.Run run) {
        String last = run.output().strip().lines().reduce((a, b) -> b).orElse("");
        if (!last.startsWith("max_abs_diff=")) {
            throw new IllegalStateException("snapscore verify gave no result (exit " + run.exitCode() + "):\n" + run.output().strip());
        }
        return Double.parseDouble(last.substring("max_abs_diff=".length()));
    }

    static Tensor tensor(Arena arena, String name, INDArray a) {
        float[] data = a.dup('c').data().asFloat();
        MemorySegment seg = arena.allocate((long) data.length * Float.BYTES, 64);
        MemorySegment.copy(data, 0, seg, JAVA_FLOAT, 0, data.length);
        return new Tensor(name, a.shape(), seg);
    }

    static INDArray stack(InputCache cache, int[] indices) {
        int s = cache.size(), per = 3 * s * s;
        float[] data = new float[indices.length * per];
        for (int i = 0; i < indices.length; i++) cache.copy(indices[i], data, i * per);
        return Nd4j.create(data, new long[] {indices.length, 3, s, s}, 'c');
    }

    private static boolean isEmptyDir(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}
