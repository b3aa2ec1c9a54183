package dev.snapscore.engine.format;

import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Weights;

/** A model read from disk: its spec and its weights, checked against each other. Owns the weights. */
public record LoadedModel(ModelSpec spec, Weights weights) implements AutoCloseable {
    public LoadedModel {
        spec.checkWeights(weights);
    }

    @Override
    public void close() {
        weights.close();
    }
}
