package dev.snapscore.spark;

import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Precision;

import java.io.Serializable;
import java.nio.file.Path;

/**
 * How executors prepare the model, as {@code snapscore score}'s model flags say; serialised into each task.
 *
 * @param precision   the arithmetic of an f32 model's layers
 * @param convolution how its f32 convolutions run
 * @param cache       whether executors keep prepared weights and auto's choices in a plan cache
 * @param cacheDir    the plan cache's folder on every executor, or null for the default: beside a model read in place
 *                    (as for score), and the user's cache folder for a shipped copy, which lasts only as long as its job
 */
public record ModelPreparation(Precision precision, ConvolutionAlgorithm convolution, boolean cache, String cacheDir)
        implements Serializable {
    /** f32, auto convolutions, the plan cache in its default folder. */
    public static final ModelPreparation DEFAULT = new ModelPreparation(Precision.F32, ConvolutionAlgorithm.AUTO, true, null);

    public ModelPreparation {
        if (precision == null || convolution == null) throw new IllegalArgumentException("precision and convolution are required");
        if (cacheDir != null && !Path.of(cacheDir).isAbsolute()) {
            throw new IllegalArgumentException("the executors' cache folder must be an absolute path, got " + cacheDir);
        }
    }

    /** The engine's options for a model at a path that lasts ({@code shipped} false) or a job's shipped copy. */
    ModelOptions options(boolean shipped) {
        ModelOptions o = ModelOptions.defaults().withPrecision(precision).withConvolution(convolution);
        if (!cache) return o.withCache(false);
        if (cacheDir != null) return o.withCacheDir(Path.of(cacheDir));
        return shipped ? o.withCacheDir(ModelOptions.userCacheDir()) : o;
    }
}
