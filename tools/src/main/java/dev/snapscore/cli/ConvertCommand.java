package dev.snapscore.cli;

import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.onnx.OnnxImporter;
import dev.snapscore.engine.spec.ModelSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** ONNX → snapscore's model directory (spec.json + weights.safetensors). */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Convert an ONNX VGG-family model into a snapscore model directory",
                "(spec.json + memory-mappable weights.safetensors)."})
final class ConvertCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The ONNX model to convert.")
    Path onnx;

    @Parameters(index = "1", paramLabel = "OUTDIR", description = "Directory to write; created if missing.")
    Path outDir;

    @Option(names = "--labels", split = ",", paramLabel = "LABEL", description = "Class labels, comma-separated (default 0..n-1).")
    List<String> labels;

    @Option(names = "--values", split = ",", paramLabel = "VALUE",
            description = "Ordinal value per label, comma-separated, for expected scores (default: none).")
    List<Double> values;

    @Option(names = "--name", description = "Model name written to the spec (default: the ONNX file's name).")
    String name;

    @picocli.CommandLine.Mixin
    ReplaceOption replace;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        replace.checkCanWrite(outDir);
        try (LoadedModel loaded = OnnxImporter.read(onnx)) {
            ModelSpec s = loaded.spec();
            String modelName = name != null ? name : onnx.getFileName().toString().replaceFirst("\\.onnx$", "");
            ModelSpec out = new ModelSpec(modelName, s.input(), s.preprocess(), s.layers(),
                    labels != null ? labels : s.labels(), values != null ? values : s.values());
            ModelDirectory.write(outDir, out, loaded.weights());
            spec.commandLine().getOut().printf("wrote %s: %d layers, %d weight tensors, %d classes%n",
                    outDir, out.layers().size(), loaded.weights().names().size(), out.classes());
        }
        return SnapscoreCli.OK;
    }
}
