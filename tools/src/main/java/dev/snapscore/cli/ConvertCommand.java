package dev.snapscore.cli;

import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.ModelFormats;
import dev.snapscore.engine.spec.ElementType;
import dev.snapscore.engine.spec.ModelSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** ONNX (or a model directory) → snapscore's model directory (spec.json + weights.safetensors), f32 or bf16 weights. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Convert an ONNX VGG-family model (or a snapscore model directory) into a snapscore model",
                "directory (spec.json + memory-mappable weights.safetensors)."})
final class ConvertCommand implements Callable<Integer> {
    /** How the weight matrices and filters are stored. */
    enum StoredPrecision {
        f32(ElementType.F32), bf16(ElementType.BF16);

        final ElementType type;

        StoredPrecision(ElementType type) {
            this.type = type;
        }
    }

    @Parameters(index = "0", paramLabel = "MODEL", description = "The model to convert: an .onnx file or a model directory.")
    Path source;

    @Parameters(index = "1", paramLabel = "OUTDIR", description = "Directory to write; created if missing.")
    Path outDir;

    @Option(names = "--labels", split = ",", paramLabel = "LABEL", description = "Class labels, comma-separated (default 0..n-1).")
    List<String> labels;

    @Option(names = "--values", split = ",", paramLabel = "VALUE",
            description = "Ordinal value per label, comma-separated, for expected scores (default: none).")
    List<Double> values;

    @Option(names = "--name", description = "Model name written to the spec (default: the ONNX file's or the directory's name).")
    String name;

    @Option(names = "--precision", paramLabel = "f32|bf16", defaultValue = "f32",
            description = {"How weight matrices and filters are stored: f32, or bf16 (rounded to nearest even: a file of about",
                    "half the size, loaded by every precision; biases stay f32). Default: f32."})
    StoredPrecision precision;

    @picocli.CommandLine.Mixin
    ReplaceOption replace;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (Files.isDirectory(source) && Files.isDirectory(outDir) && Files.isSameFile(source, outDir)) {
            throw new IllegalArgumentException("OUTDIR " + outDir + " is the model being converted: write to another directory");
        }
        replace.checkCanWrite(outDir);
        try (LoadedModel loaded = ModelFormats.read(source)) {
            ModelSpec s = loaded.spec();
            String modelName = name != null ? name : source.getFileName().toString().replaceFirst("\\.onnx$", "");
            ModelSpec out = new ModelSpec(modelName, s.input(), s.preprocess(), s.layers(),
                    labels != null ? labels : s.labels(), values != null ? values : s.values());
            ModelDirectory.write(outDir, out, loaded.weights(), precision.type);
            spec.commandLine().getOut().printf("wrote %s: %d layers, %d weight tensors (%s), %d classes%n",
                    outDir, out.layers().size(), loaded.weights().names().size(), precision, out.classes());
        }
        return SnapscoreCli.OK;
    }
}
