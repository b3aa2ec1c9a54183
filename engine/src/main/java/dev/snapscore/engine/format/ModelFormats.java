package dev.snapscore.engine.format;

import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.format.onnx.OnnxImporter;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** Reads a model in whichever format {@code path} holds. */
public final class ModelFormats {
    private ModelFormats() {
    }

    /** A snapscore model directory, or an {@code .onnx} file. */
    public static LoadedModel read(Path path) {
        if (!Files.exists(path)) throw new ModelFormatException("no such model: " + path);
        if (Files.isDirectory(path)) return ModelDirectory.read(path);
        String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".onnx")) return OnnxImporter.read(path);
        if (name.equals(ModelDirectory.SPEC_FILE)) return ModelDirectory.read(path.toAbsolutePath().getParent());
        throw new ModelFormatException(path + ": not a model: give an .onnx file or a snapscore model directory");
    }
}
