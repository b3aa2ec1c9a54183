package dev.snapscore.engine.format;

import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;

import java.io.IOException;
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
        spec.checkWeights(weights);
        Files.createDirectories(dir);
        List<Tensor> tensors = new ArrayList<>();
        for (Tensor.ShapeRequirement r : spec.weightShapes()) tensors.add(weights.get(r));
        // f32 tensors first, so every one of them starts 4-byte aligned in the mapped file.
        tensors.sort(java.util.Comparator.comparingInt(t -> -t.type().bytes));
        Safetensors.write(dir.resolve(WEIGHTS_FILE), tensors);
        SpecJson.write(dir.resolve(SPEC_FILE), spec, WEIGHTS_FILE);
    }
}
