package dev.snapscore.bench;

import ai.onnxruntime.OrtException;
import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Precision;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/** One engine under test, loaded with one model, ready to run one batch of random preprocessed images. */
interface InferenceEngine extends AutoCloseable {
    /**
     * Every engine {@link #open} knows, in the benchmarks' order: {@code snapscore} is the engine's defaults, the others
     * name one setting each (so {@code snapscore} equals one of them, whichever the defaults are).
     */
    List<String> NAMES = List.of("snapscore", "snapscore-direct", "snapscore-winograd", "snapscore-auto", "snapscore-bf16",
            "snapscore-int8", "onnxruntime", "onnxruntime-int8", "opencv-dnn");

    /**
     * {@link #NAMES} less those this CPU cannot run (bf16 needs AVX512_BF16 or AMX) and less the one that names the
     * defaults' own setting ({@code snapscore-auto}), which would measure {@code snapscore} twice.
     */
    static List<String> runnableHere() {
        return NAMES.stream().filter(name -> !name.equals("snapscore-bf16") || Dnnl.hasBf16())
                .filter(name -> !name.equals(defaultsName())).toList();
    }

    /** The engine of {@link #NAMES} that runs as the defaults do, besides {@code snapscore}. */
    static String defaultsName() {
        return "snapscore-" + ModelOptions.defaults().convolution().name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Runs the batch; returns something the benchmark sinks so the work cannot be optimised away. */
    Object infer() throws Exception;

    /** Runs the batch once and returns both of the model's outputs as the engine gave them, for {@link CrossCheck}. */
    Outputs outputs() throws Exception;

    /** Only ONNX Runtime's close throws a checked exception (not Exception, whose InterruptedException try-with-resources warns of). */
    @Override
    void close() throws OrtException;

    /**
     * @param modelDir a directory holding {@code model.onnx} (every engine) and, for snapscore, its own format
     * @param int8Dir  the same network quantised to int8 in snapscore's format
     */
    static InferenceEngine open(String engine, Path modelDir, Path int8Dir, int batch, int threads) throws Exception {
        return switch (engine) {
            case "snapscore" -> new SnapscoreEngine(modelDir, batch, threads, ModelOptions.defaults());
            case "snapscore-direct" -> new SnapscoreEngine(modelDir, batch, threads,
                    ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.DIRECT));
            case "snapscore-winograd" -> new SnapscoreEngine(modelDir, batch, threads,
                    ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.WINOGRAD));
            case "snapscore-auto" -> new SnapscoreEngine(modelDir, batch, threads,
                    ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.AUTO));
            case "snapscore-bf16" -> new SnapscoreEngine(modelDir, batch, threads,
                    ModelOptions.defaults().withPrecision(Precision.BF16));
            case "snapscore-int8" -> new SnapscoreEngine(int8Dir, batch, threads, ModelOptions.defaults());
            case "onnxruntime" -> new OnnxRuntimeEngine(modelDir.resolve("model.onnx"), batch, threads);
            case "onnxruntime-int8" -> new OnnxRuntimeEngine(int8Dir.resolve("model.onnx"), batch, threads);
            case "opencv-dnn" -> new OpenCvDnnEngine(modelDir.resolve("model.onnx"), batch, threads);
            default -> throw new IllegalArgumentException("unknown engine " + engine);
        };
    }

    /** One batch's {@code logits} (the last layer's values) and {@code probs} (their softmax), (batch, classes) row-major. */
    record Outputs(float[] logits, float[] probabilities) {
    }

    /** Pixel-like values, as preprocessing gives them; the same for every engine. */
    static float[] randomImages(int batch, int perImage) {
        SplittableRandom r = new SplittableRandom(42);
        float[] x = new float[batch * perImage];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble(256) - 120);
        return x;
    }
}
