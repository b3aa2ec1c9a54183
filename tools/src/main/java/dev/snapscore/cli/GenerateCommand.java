package dev.snapscore.cli;

import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.format.OnnxExporter;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputLayout;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** A VGG-family model with random He-scaled weights, in snapscore's format and as ONNX, for benchmarks and tests. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Write a VGG-family model with random (He-scaled) weights: a snapscore model directory",
                "plus OUTDIR/model.onnx of the same network. Random weights are not a trained photo judge."})
final class GenerateCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "OUTDIR", description = "Directory to write; created if missing.")
    Path outDir;

    @Option(names = "--arch", defaultValue = "vgg16", description = "Architecture (vgg16). Default: ${DEFAULT-VALUE}.")
    String arch;

    @Option(names = "--width", defaultValue = "1.0",
            description = "Width multiplier: scales every conv width (1.0 = VGG16's 64..512), as `train --width`. Default: ${DEFAULT-VALUE}.")
    double widthMultiplier;

    /** The old name, kept working for existing scripts; not shown in the help. */
    @Option(names = "--width-multiplier", hidden = true)
    void deprecatedWidthMultiplier(double value) {
        widthMultiplier = value;
    }

    @Option(names = "--head", split = ",", defaultValue = "2048,1024,512,64",
            description = "Hidden dense widths, comma-separated. Default: ${DEFAULT-VALUE}.")
    List<Integer> head;

    @Option(names = "--classes", defaultValue = "10", description = "Output classes. Default: ${DEFAULT-VALUE}.")
    int classes;

    @Option(names = "--flatten", defaultValue = "nchw", description = "Flatten order: nchw (PyTorch) or nhwc (Keras). Default: ${DEFAULT-VALUE}.")
    String flatten;

    @Option(names = "--pool", defaultValue = "none", paramLabel = "none|gap",
            description = {"What joins the conv base to the head: none (VGG16's: the last 7x7 map flattened) or gap",
                    "(a global average pool, as Keras' VGG16(include_top=False) + GlobalAveragePooling2D). Default: ${DEFAULT-VALUE}."})
    ModelGenerator.Pool pool;

    @Option(names = "--input-layout", defaultValue = "nchw", paramLabel = "nchw|nhwc",
            description = "The input tensor's layout: nchw (PyTorch) or nhwc (Keras, tf2onnx); photos are preprocessed into it. Default: ${DEFAULT-VALUE}.")
    InputLayout inputLayout;

    @Option(names = "--seed", defaultValue = "1", description = "Random seed. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--input-size", defaultValue = "224", description = "Input height and width. Default: ${DEFAULT-VALUE}.")
    int inputSize;

    @Option(names = "--no-onnx", description = "Skip writing model.onnx.")
    boolean noOnnx;

    @picocli.CommandLine.Mixin
    ReplaceOption replace;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        FlattenOrder order = switch (flatten.toLowerCase(java.util.Locale.ROOT)) {
            case "nchw" -> FlattenOrder.NCHW;
            case "nhwc" -> FlattenOrder.NHWC;
            default -> throw new IllegalArgumentException("--flatten must be nchw or nhwc, got " + flatten);
        };
        replace.checkCanWrite(outDir);
        PrintWriter out = spec.commandLine().getOut();
        var config = new ModelGenerator.Config(arch, widthMultiplier, head, classes, order, seed, inputSize, pool, inputLayout);
        long t0 = System.nanoTime();
        try (LoadedModel model = ModelGenerator.generate(config)) {
            long params = model.weights().tensors().values().stream().mapToLong(t -> t.elements()).sum();
            out.printf("generated %s: %,d parameters (%.1f MB fp32) in %.1f s%n", model.spec().name(), params,
                    params * 4 / 1e6, seconds(t0));
            out.flush();
            long t1 = System.nanoTime();
            ModelDirectory.write(outDir, model.spec(), model.weights());
            out.printf("wrote %s (spec.json, weights.safetensors) in %.1f s%n", outDir, seconds(t1));
            out.flush();
            if (!noOnnx) {
                long t2 = System.nanoTime();
                OnnxExporter.write(outDir.resolve("model.onnx"), model.spec(), model.weights());
                out.printf("wrote %s in %.1f s%n", outDir.resolve("model.onnx"), seconds(t2));
            }
        }
        return SnapscoreCli.OK;
    }

    private static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }
}
