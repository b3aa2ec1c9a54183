package dev.snapscore.spark;

import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.SpecJson;
import org.apache.spark.SparkContext;
import org.apache.spark.SparkFiles;

import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where executors find the model. Either a path every executor can read as it is (local mode, a shared
 * filesystem), or files shipped with the job through {@link SparkContext#addFile}: Spark's file server sends
 * them once to each executor, which keeps them in its work directory for all its tasks.
 */
public final class ModelSource implements Serializable {
    private static final long serialVersionUID = 1L;

    private enum Kind { PATH, SHIPPED_FILE, SHIPPED_DIRECTORY }

    private final Kind kind;
    private final String path; // PATH: the path; SHIPPED_FILE: its file name; SHIPPED_DIRECTORY: unused

    private ModelSource(Kind kind, String path) {
        this.kind = kind;
        this.path = path;
    }

    /** A model at the same path on every executor. */
    public static ModelSource at(Path model) {
        return new ModelSource(Kind.PATH, model.toAbsolutePath().normalize().toString());
    }

    /**
     * Ships {@code model} (an .onnx file, or a model directory's spec.json and weights file) to the
     * executors of {@code sc}.
     *
     * @throws ModelFormatException if the model is missing or its weights lie in a subfolder (Spark ships
     *                              files flat)
     */
    public static ModelSource ship(SparkContext sc, Path model) {
        if (Files.isRegularFile(model)) {
            sc.addFile(model.toAbsolutePath().toString());
            return new ModelSource(Kind.SHIPPED_FILE, model.getFileName().toString());
        }
        Path spec = model.resolve(ModelDirectory.SPEC_FILE);
        if (!Files.isRegularFile(spec)) {
            throw new ModelFormatException(model + " is neither a model file nor a snapscore model directory");
        }
        String weights = SpecJson.read(spec).weightsFile();
        if (Path.of(weights).getNameCount() != 1) {
            throw new ModelFormatException(spec + ": weights file '" + weights + "' is in a subfolder; Spark ships files flat, "
                    + "so keep the weights next to spec.json");
        }
        sc.addFile(spec.toAbsolutePath().toString());
        sc.addFile(model.resolve(weights).toAbsolutePath().toString());
        return new ModelSource(Kind.SHIPPED_DIRECTORY, null);
    }

    /** Whether the model is a copy shipped with the job (which lasts only as long as the job), not a path read in place. */
    boolean shipped() {
        return kind != Kind.PATH;
    }

    /** The model's path in this JVM; on an executor, where Spark put the shipped files. */
    Path resolve() {
        return switch (kind) {
            case PATH -> Path.of(path);
            case SHIPPED_FILE -> Path.of(SparkFiles.get(path));
            case SHIPPED_DIRECTORY -> Path.of(SparkFiles.getRootDirectory());
        };
    }

    @Override
    public String toString() {
        return switch (kind) {
            case PATH -> path;
            case SHIPPED_FILE -> "shipped " + path;
            case SHIPPED_DIRECTORY -> "shipped model directory";
        };
    }
}
