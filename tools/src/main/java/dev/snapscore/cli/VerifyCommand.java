package dev.snapscore.cli;

import dev.snapscore.engine.Model;
import dev.snapscore.engine.Result;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

/** Runs a reference input through a model and compares with the reference output. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Run a reference input tensor through a model and compare with the reference output.",
                "Prints the largest absolute difference; the last line is max_abs_diff=<value>.",
                "Exit codes: 0 within tolerance, 1 beyond it, 2 bad input."})
final class VerifyCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model: an .onnx file or a model directory.")
    Path model;

    @Option(names = "--reference", required = true, description = "Safetensors file holding the input and expected output.")
    Path reference;

    @Option(names = "--input", defaultValue = "input", description = "Input tensor name, (N, C, H, W), or (N, H, W, C) for an NHWC-input model. Default: ${DEFAULT-VALUE}.")
    String inputName;

    @Option(names = "--output", defaultValue = "logits",
            description = "Expected output tensor name, (N, classes); names containing 'prob' are compared with"
                    + " probabilities, others with logits. Default: ${DEFAULT-VALUE}.")
    String outputName;

    @Option(names = "--tolerance", defaultValue = "1e-3", description = "Largest allowed absolute difference. Default: ${DEFAULT-VALUE}.")
    double tolerance;

    @Option(names = "--batch", defaultValue = "8", description = "Images per run. Default: ${DEFAULT-VALUE}.")
    int batch;

    @picocli.CommandLine.Mixin
    InferenceThreadsOption threads;

    @picocli.CommandLine.Mixin
    ModelFlags modelFlags;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (!(tolerance >= 0)) throw new IllegalArgumentException("--tolerance must be >= 0, got " + tolerance);
        if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        PrintWriter out = spec.commandLine().getOut();
        try (Weights ref = Safetensors.read(reference);
             Model m = Model.load(model, modelFlags.options().withThreads(threads.count())); // the load plans (with auto, times) batch 1 for these threads
             Session session = m.newSession()) {
            InputShape shape = m.spec().input();
            int classes = m.spec().classes();
            Tensor input = tensor(ref, inputName);
            Tensor expected = tensor(ref, outputName);
            if (input.type() != dev.snapscore.engine.spec.ElementType.F32 || expected.type() != dev.snapscore.engine.spec.ElementType.F32) {
                throw new IllegalArgumentException("reference tensors must be F32; '" + inputName + "' is " + input.type()
                        + ", '" + outputName + "' is " + expected.type());
            }
            long n = input.dim(0);
            long[] wantIn = shape.dims(n); // in the model's input layout
            if (!Arrays.equals(input.shape(), wantIn)) {
                throw new IllegalArgumentException("reference input '" + inputName + "' has shape "
                        + Arrays.toString(input.shape()) + "; the model takes " + Arrays.toString(wantIn));
            }
            if (!Arrays.equals(expected.shape(), new long[] {n, classes})) {
                throw new IllegalArgumentException("reference output '" + outputName + "' has shape "
                        + Arrays.toString(expected.shape()) + "; the model gives [" + n + ", " + classes + "]");
            }
            boolean probs = outputName.toLowerCase(java.util.Locale.ROOT).contains("prob");
            long perImage = shape.elements() * Float.BYTES;
            double maxDiff = 0;
            int argmaxAgree = 0;
            long start = System.nanoTime();
            for (long first = 0; first < n; first += batch) {
                int k = (int) Math.min(batch, n - first);
                MemorySegment chunk = input.data().asSlice(first * perImage, k * perImage);
                Result r = session.run(chunk, k);
                for (int i = 0; i < k; i++) {
                    float[] got = probs ? r.probabilities(i) : r.logits(i);
                    int wantBest = 0;
                    for (int c = 0; c < classes; c++) {
                        float want = expected.data().getAtIndex(JAVA_FLOAT_UNALIGNED, (first + i) * classes + c);
                        maxDiff = Math.max(maxDiff, Math.abs(got[c] - want));
                        if (want > expected.data().getAtIndex(JAVA_FLOAT_UNALIGNED, (first + i) * classes + wantBest)) wantBest = c;
                    }
                    if (r.argmax(i) == wantBest) argmaxAgree++;
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            out.printf("model:      %s (%s, %d classes)%n", model, m.spec().name(), classes);
            out.printf("reference:  %s: %s %s -> %s %s%n", reference, inputName, Arrays.toString(input.shape()),
                    outputName, Arrays.toString(expected.shape()));
            out.printf("compared:   %s of %d images in %.3f s; top-1 agrees on %d of %d%n",
                    probs ? "probabilities" : "logits", n, seconds, argmaxAgree, n);
            boolean ok = maxDiff <= tolerance;
            out.printf("result:     %s (tolerance %s)%n", ok ? "PASS" : "FAIL", tolerance);
            out.printf("max_abs_diff=%.6g%n", maxDiff);
            out.flush();
            return ok ? SnapscoreCli.OK : SnapscoreCli.BEYOND_TOLERANCE;
        }
    }

    private static Tensor tensor(Weights ref, String name) {
        Tensor t = ref.tensors().get(name);
        if (t == null) {
            throw new IllegalArgumentException("reference has no tensor '" + name + "'; it holds " + ref.names());
        }
        return t;
    }
}
