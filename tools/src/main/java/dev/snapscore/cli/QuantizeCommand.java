package dev.snapscore.cli;

import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.ModelFormats;
import dev.snapscore.engine.quantize.InputSet;
import dev.snapscore.engine.quantize.Quantizer;
import dev.snapscore.engine.spec.Layer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** Post-training static int8 quantisation of an f32 model, calibrated on photos or preprocessed tensors. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantise an f32 model to int8, calibrated on photos or preprocessed tensors.",
                "s8 weights with per-channel scales, u8/s8 activations; the result is a snapscore model",
                "directory that score, serve, verify, compare and bench load like any other."})
final class QuantizeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "The f32 model: an .onnx file or a model directory.")
    Path model;

    @Option(names = "--calibration", required = true, paramLabel = "DIR",
            description = "Photos (jpg, png, ...) and/or .safetensors files holding an 'input' tensor (n, C, H, W), or (n, H, W, C) for an NHWC-input model, of preprocessed images.")
    Path calibration;

    @Parameters(index = "0", paramLabel = "OUTDIR", description = "Directory to write; created if missing.")
    Path outDir;

    @Option(names = "--images", defaultValue = "64", description = "Use at most this many calibration inputs. Default: ${DEFAULT-VALUE}.")
    int images;

    @Option(names = "--method", defaultValue = "max",
            description = "Activation range: max (no clipping), percentile (clip rare outliers) or mse (clip where the expected squared error is least). Default: ${DEFAULT-VALUE}.")
    String method;

    @Option(names = "--percentile", defaultValue = "99.99", description = "Percentile of magnitudes kept with --method percentile. Default: ${DEFAULT-VALUE}.")
    double percentile;

    @Option(names = "--dense", defaultValue = "int8", description = "The dense head in int8 or f32 (convolutions are always int8). Default: ${DEFAULT-VALUE}.")
    String dense;

    @picocli.CommandLine.Mixin
    InferenceThreadsOption threads;

    @picocli.CommandLine.Mixin
    ReplaceOption replace;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Quantizer.Method m = switch (method.toLowerCase(Locale.ROOT)) {
            case "max" -> Quantizer.Method.MAX;
            case "percentile" -> Quantizer.Method.PERCENTILE;
            case "mse" -> Quantizer.Method.MSE;
            default -> throw new IllegalArgumentException("--method must be max, percentile or mse, got '" + method + "'");
        };
        boolean denseInt8 = switch (dense.toLowerCase(Locale.ROOT)) {
            case "int8" -> true;
            case "f32" -> false;
            default -> throw new IllegalArgumentException("--dense must be int8 or f32, got '" + dense + "'");
        };
        var options = new Quantizer.Options(m, percentile, denseInt8, 8,
                threads.count());
        replace.checkCanWrite(outDir);
        try (LoadedModel f32 = ModelFormats.read(model);
             InputSet set = InputSet.read(calibration, f32.spec(), images,
                     skipped -> err.println("skipped: " + skipped))) {
            out.printf("calibrating %s on %d inputs from %s (%s)%n", f32.spec().name(), set.count(), calibration, method);
            out.flush();
            try (LoadedModel int8 = Quantizer.quantize(f32, set, options, line -> { out.println(line); out.flush(); })) {
                ModelDirectory.write(outDir, int8.spec(), int8.weights());
                var q = int8.spec().quantization();
                out.printf("input %s; %d of %d weighted layers in int8%n", q.input(), q.layers().size(), countWeighted(int8));
                q.layers().forEach((layer, e) -> out.printf("  %-16s -> %s%n", layer, e));
                out.printf("weights: %.1f MB f32 -> %.1f MB%n", bytes(f32) / 1e6, bytes(int8) / 1e6);
                out.printf("wrote %s%n", outDir);
            }
        }
        return SnapscoreCli.OK;
    }

    private static long countWeighted(LoadedModel m) {
        return m.spec().layers().stream().filter(l -> l instanceof Layer.Conv || l instanceof Layer.Dense).count();
    }

    private static long bytes(LoadedModel m) {
        return m.weights().tensors().values().stream().mapToLong(t -> t.data().byteSize()).sum();
    }
}
