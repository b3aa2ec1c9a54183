package dev.snapscore.engine.format;

import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.spec.ElementType;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** snapscore's model format: a directory with {@code spec.json} and a safetensors weights file. */
public final class ModelDirectory {
    public static final String SPEC_FILE = "spec.json";
    public static final String WEIGHTS_FILE = "weights.safetensors";

    private ModelDirectory() {
    }

    /** Reads the spec and memory-maps the weights, checking every tensor's shape against the spec. */
    public static LoadedModel read(Path dir) {
        Path specFile = dir.resolve(SPEC_FILE);
        if (!Files.isRegularFile(specFile)) {
            throw new ModelFormatException(dir + " is not a snapscore model directory: it has no " + SPEC_FILE);
        }
        SpecJson.Parsed parsed = SpecJson.read(specFile);
        Path weightsFile = dir.resolve(parsed.weightsFile()).normalize();
        if (!weightsFile.startsWith(dir.normalize())) {
            throw new ModelFormatException(specFile + ": weights file '" + parsed.weightsFile() + "' lies outside the model directory");
        }
        Weights weights = Safetensors.read(weightsFile);
        try {
            return new LoadedModel(parsed.spec(), weights);
        } catch (ModelFormatException e) {
            weights.close();
            throw new ModelFormatException(weightsFile + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    /**
     * Writes {@code spec} and the tensors it needs (in layer order) into {@code dir}, creating it. The
     * weights are written first, so a spec.json is never seen without its weights.
     */
    public static void write(Path dir, ModelSpec spec, Weights weights) throws IOException {
        write(dir, spec, weights, ElementType.F32);
    }

    /**
     * As {@link #write(Path, ModelSpec, Weights)}, storing every f32 weight matrix and filter (rank ≥ 2) as
     * {@code floatWeights}: F32 as they are, or BF16 (rounded to nearest even) for a file of about half the
     * size. Biases and scales stay f32: they are small, and bf16 would cost accuracy for nothing.
     */
    public static void write(Path dir, ModelSpec spec, Weights weights, ElementType floatWeights) throws IOException {
        if (floatWeights != ElementType.F32 && floatWeights != ElementType.BF16) {
            throw new IllegalArgumentException("weights are stored as f32 or bf16, not " + floatWeights.specName());
        }
        spec.checkWeights(weights);
        Files.createDirectories(dir);
        try (Arena arena = Arena.ofConfined()) {
            List<Tensor> tensors = new ArrayList<>();
            for (Tensor.ShapeRequirement r : spec.weightShapes()) {
                Tensor t = weights.get(r);
                boolean matrix = t.rank() >= 2 && r.type() == ElementType.F32;
                if (t.type() == ElementType.BF16 && !(matrix && floatWeights == ElementType.BF16)) t = t.toF32(arena);
                else if (t.type() == ElementType.F32 && matrix && floatWeights == ElementType.BF16) t = t.toBf16(arena);
                tensors.add(t);
            }
            // Widest first, so every tensor starts aligned to its element size in the mapped file.
            tensors.sort(java.util.Comparator.comparingInt(t -> -t.type().bytes));
            Safetensors.write(dir.resolve(WEIGHTS_FILE), tensors);
        }
        SpecJson.write(dir.resolve(SPEC_FILE), spec, WEIGHTS_FILE);
    }
}
