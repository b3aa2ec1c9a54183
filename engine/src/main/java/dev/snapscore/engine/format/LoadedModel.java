package dev.snapscore.engine.format;

import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Weights;

import java.nio.file.Path;
import java.util.List;

/**
 * A model read from disk: its spec and its weights, checked against each other. Owns the weights.
 *
 * @param dataFiles files other than the model's own that its weights were read from (an ONNX model's external data),
 *                  sorted; part of its identity ({@link ContentHashes})
 */
public record LoadedModel(ModelSpec spec, Weights weights, List<Path> dataFiles) implements AutoCloseable {
    public LoadedModel {
        spec.checkWeights(weights);
        dataFiles = List.copyOf(dataFiles);
    }

    /** A model whose weights came from its own files alone. */
    public LoadedModel(ModelSpec spec, Weights weights) {
        this(spec, weights, List.of());
    }

    @Override
    public void close() {
        weights.close();
    }
}
