package dev.snapscore.spark;

import dev.snapscore.engine.image.DecodeOptions;

import java.io.Serializable;

/**
 * What every task needs to score its partition; serialised into each task.
 *
 * @param model     where executors find the model
 * @param batch     images per inference run
 * @param maxBytes  largest encoded file accepted (bigger ones are error rows, not read)
 * @param maxPixels largest width × height accepted (checked from the header, before decoding)
 * @param cleaning  the face rule to apply before scoring, or null to score every photo
 * @param decode    fast or exact decoding, and the face cascade's resolution
 * @param preparation how executors prepare the model
 */
public record ScoreSettings(ModelSource model, int batch, long maxBytes, long maxPixels, Cleaning cleaning,
                            DecodeOptions decode, ModelPreparation preparation) implements Serializable {
    public ScoreSettings {
        if (model == null) throw new IllegalArgumentException("a model is required");
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        if (maxBytes < 1 || maxPixels < 1) throw new IllegalArgumentException("size limits must be positive");
        if (decode == null) throw new IllegalArgumentException("decode options are required");
        if (preparation == null) throw new IllegalArgumentException("a model preparation is required");
    }
}
