package dev.snapscore.cli;

import dev.snapscore.engine.format.ModelDirectory;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;

/** {@code --force} for verbs that write a model directory: a model already there is replaced only on request. */
final class ReplaceOption {
    @Option(names = "--force", description = "Replace a model already in OUTDIR.")
    boolean force;

    /** Refuses {@code outDir} when it already holds a model and {@code --force} was not given. */
    void checkCanWrite(Path outDir) {
        if (Files.exists(outDir.resolve(ModelDirectory.SPEC_FILE)) && !force) {
            throw new IllegalArgumentException(outDir + " already holds a model; pass --force to replace it");
        }
    }
}
