package dev.snapscore.engine;

import dev.snapscore.engine.format.ContentHashes;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.runtime.PlanCache;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where a model's plan cache lives and what it is keyed by. */
final class PlanCaches {
    static final String BESIDE_MODEL = ".snapscore-cache";

    private PlanCaches() {
    }

    /**
     * The plan cache of the model read from {@code path} as {@code options} say, or null when they turn it off or
     * its folder cannot be used (then one line on stderr says why, and the model loads without it).
     */
    static PlanCache open(Path path, LoadedModel loaded, ModelOptions options) {
        if (!options.cache()) return null;
        Path dir = folder(path, options);
        try {
            Path memo = dir.resolve(PlanCache.HASHES);
            PlanCache.Key key = PlanCache.key(ContentHashes.model(path, loaded, memo), ContentHashes.engineCode(memo), options);
            return PlanCache.open(dir, key, options.cacheLimit());
        } catch (IOException | RuntimeException e) {
            System.err.println("snapscore: plan cache in " + dir + " not used (" + e + ")");
            return null;
        }
    }

    /**
     * {@link ModelOptions#cacheDir()} if set; else {@value #BESIDE_MODEL} beside the model where that folder can be
     * written; else {@code $XDG_CACHE_HOME/snapscore}, or {@code ~/.cache/snapscore} without it.
     */
    static Path folder(Path path, ModelOptions options) {
        if (options.cacheDir() != null) return options.cacheDir();
        Path modelDir = Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
        Path beside = modelDir.resolve(BESIDE_MODEL);
        if (Files.isDirectory(beside) ? Files.isWritable(beside) : Files.isWritable(modelDir)) return beside;
        return ModelOptions.userCacheDir();
    }
}
