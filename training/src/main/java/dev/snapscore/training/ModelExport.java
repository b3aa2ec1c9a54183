package dev.snapscore.training;

import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
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
    static void write(MultiLayerNetwork net, Architecture arch, ModelSpec spec, Path outDir) throws IOException {
        Path abs = outDir.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path fresh = Files.createTempDirectory(abs.getParent(), "." + abs.getFileName() + ".new");
        Path old = abs.resolveSibling("." + abs.getFileName() + ".old");
        try {
            try (Weights weights = Dl4jNetwork.export(net, arch)) {
                ModelDirectory.write(fresh, spec, weights);
            }
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

    /**
     * Scores {@code inputs} (N, 3, H, W) with DL4J and, in a child JVM, with the engine on the exported
     * model; returns the engine's verify output (last line {@code max_abs_diff=…}, over probabilities).
     */
    static EngineCli.Run verify(EngineCli engine, MultiLayerNetwork net, Path modelDir, INDArray inputs, double tolerance,
                                Path scratch) throws IOException, InterruptedException {
        INDArray probabilities = net.output(inputs, false);
        Path reference = scratch.resolve("export-reference.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            Safetensors.write(reference, List.of(tensor(arena, "input", inputs), tensor(arena, "probabilities", probabilities)));
        }
        return engine.run("verify", "--model", modelDir.toString(), "--reference", reference.toString(),
                "--output", "probabilities", "--tolerance", Double.toString(tolerance));
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
