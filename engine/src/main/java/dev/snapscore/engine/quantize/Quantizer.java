package dev.snapscore.engine.quantize;

import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.runtime.OneDnnExecutor;
import dev.snapscore.engine.runtime.OneDnnNetwork;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.ElementType;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Quantization;
import dev.snapscore.engine.spec.Quantization.Encoding;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

/**
 * Post-training static quantisation: runs calibration inputs through the f32 model to find each
 * activation's range, then writes an int8 model — s8 weights with one symmetric scale per output channel,
 * u8 activations after a ReLU and s8 elsewhere (zero point 0), f32 biases and f32 logits.
 */
public final class Quantizer {
    /** The name calibration ranges use for the network input. */
    static final String INPUT = "input";

    /**
     * @param method     {@code MAX} clips nothing; {@code PERCENTILE} clips each activation at {@code percentile}
     *                   % of its magnitudes; {@code MSE} clips where the expected squared error is least
     * @param denseInt8  quantise the dense head too (else only the convolutions; the head reads f32)
     * @param batch      images per calibration run
     */
    public record Options(Method method, double percentile, boolean denseInt8, int batch, int threads) {
        public Options {
            if (method == Method.PERCENTILE && !(percentile > 0 && percentile <= 100)) {
                throw new IllegalArgumentException("percentile must be in (0, 100], got " + percentile);
            }
            if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
            if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }

        String describe() {
            return switch (method) {
                case MAX -> "max";
                case PERCENTILE -> "percentile " + percentile;
                case MSE -> "mse";
            };
        }
    }

    public enum Method { MAX, PERCENTILE, MSE }

    private Quantizer() {
    }

    /**
     * Quantises {@code model} (an f32 model) with the ranges {@code calibration} produces. The result owns
     * its own memory; {@code model} may be closed afterwards.
     *
     * @param progress receives a line per calibration pass
     */
    public static LoadedModel quantize(LoadedModel model, InputSet calibration, Options options,
                                       Consumer<String> progress) {
        ModelSpec spec = model.spec();
        if (spec.quantization() != null) throw new IllegalArgumentException("model " + spec.name() + " is already quantised");
        Map<String, ActivationRange> ranges = calibrate(model, calibration, options, progress);
        Quantization q = encodings(spec, ranges, options, calibration.count());
        ModelSpec quantised = spec.withQuantization(q);
        return new LoadedModel(quantised, weights(spec, model.weights(), q));
    }

    /** Ranges of the input and of every conv and dense output, over the whole calibration set. */
    private static Map<String, ActivationRange> calibrate(LoadedModel model, InputSet set, Options options,
                                                          Consumer<String> progress) {
        Map<String, ActivationRange> ranges = new LinkedHashMap<>();
        ranges.put(INPUT, new ActivationRange());
        for (Layer l : model.spec().layers()) {
            if (l instanceof Layer.Conv c) ranges.put(c.name(), new ActivationRange());
            if (l instanceof Layer.Dense d) ranges.put(d.name(), new ActivationRange());
        }
        // Direct convolutions: the reference arithmetic, with no timing of Winograd for a network run a few times.
        try (OneDnnNetwork network = new OneDnnNetwork(model.spec(), model.weights(),
                ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.DIRECT));
             OneDnnExecutor executor = network.newExecutor(options.threads())) {
            pass(executor, set, options.batch(), ranges, false, progress);
            if (options.method() != Method.MAX) pass(executor, set, options.batch(), ranges, true, progress);
        }
        return ranges;
    }

    private static void pass(OneDnnExecutor executor, InputSet set, int batch, Map<String, ActivationRange> ranges,
                             boolean histogram, Consumer<String> progress) {
        long start = System.nanoTime();
        for (int first = 0; first < set.count(); first += batch) {
            int n = Math.min(batch, set.count() - first);
            MemorySegment input = set.slice(first, n);
            observe(ranges.get(INPUT), input, histogram);
            executor.runObserved(input, n, (step, output) -> {
                ActivationRange r = ranges.get(step);
                if (r != null) observe(r, output, histogram);
            });
        }
        progress.accept(String.format(Locale.ROOT, "calibration %s: %d inputs in %.1f s",
                histogram ? "histograms" : "ranges", set.count(), (System.nanoTime() - start) / 1e9));
    }

    private static void observe(ActivationRange r, MemorySegment values, boolean histogram) {
        if (histogram) r.addHistogram(values);
        else r.addRange(values);
    }

    /** Which layers run in int8, and each activation's type and scale. */
    private static Quantization encodings(ModelSpec spec, Map<String, ActivationRange> ranges, Options options, int images) {
        Layer.Dense last = null;
        for (Layer l : spec.layers()) if (l instanceof Layer.Dense d) last = d;
        Map<String, Encoding> layers = new LinkedHashMap<>();
        for (Layer l : spec.layers()) {
            switch (l) {
                case Layer.Conv c -> layers.put(c.name(), encoding(ranges.get(c.name()), c.activation(), options));
                case Layer.Dense d when options.denseInt8() ->
                        layers.put(d.name(), d == last ? Encoding.F32 : encoding(ranges.get(d.name()), d.activation(), options));
                default -> { }
            }
        }
        ActivationRange in = ranges.get(INPUT);
        Encoding input = encoding(in, in.min() >= 0 ? Activation.RELU : Activation.NONE, options);
        return new Quantization(input, layers, options.describe(), images);
    }

    /** u8 after a ReLU (nothing negative to keep), else s8; scale = clipped magnitude / largest level. */
    private static Encoding encoding(ActivationRange r, Activation activation, Options options) {
        ElementType type = activation == Activation.RELU ? ElementType.U8 : ElementType.S8;
        float clip = switch (options.method()) {
            case MAX -> r.absMax();
            case PERCENTILE -> r.clip(options.percentile());
            case MSE -> r.clipMinimisingError(type.maxLevel());
        };
        // An all-zero activation (a dead layer on this data) still needs a valid scale.
        return new Encoding(type, clip > 0 ? clip / type.maxLevel() : 1f);
    }

    /** Every tensor copied into a new arena: quantised layers' weights as s8 plus scales, the rest as they are. */
    private static Weights weights(ModelSpec spec, Weights source, Quantization q) {
        Map<String, String> layerOfWeight = new LinkedHashMap<>();
        for (Layer l : spec.layers()) {
            if (l instanceof Layer.Conv c) layerOfWeight.put(c.weightName(), c.name());
            if (l instanceof Layer.Dense d) layerOfWeight.put(d.weightName(), d.name());
        }
        Arena arena = Arena.ofShared();
        try {
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (Tensor.ShapeRequirement r : spec.weightShapes()) {
                Tensor t = source.get(r).toF32(arena);
                String layer = layerOfWeight.get(r.name());
                if (layer != null && q.isQuantised(layer)) {
                    quantiseWeight(layer, t, arena, out);
                } else {
                    out.put(t.name(), new Tensor(t.name(), t.shape(), arena.allocate(t.data().byteSize(), 64).copyFrom(t.data())));
                }
            }
            return new Weights(arena, out);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Symmetric per-output-channel: scale = max |w| / 127 over the channel, q = round(w / scale). */
    private static void quantiseWeight(String layer, Tensor w, Arena arena, Map<String, Tensor> out) {
        int channels = (int) w.dim(0);
        long perChannel = w.elements() / channels;
        MemorySegment q = arena.allocate(w.elements(), 64);
        MemorySegment scales = arena.allocate((long) channels * Float.BYTES, 64);
        for (int o = 0; o < channels; o++) {
            long base = o * perChannel;
            float maxAbs = 0;
            for (long i = 0; i < perChannel; i++) maxAbs = Math.max(maxAbs, Math.abs(w.data().getAtIndex(JAVA_FLOAT_UNALIGNED, base + i)));
            float scale = maxAbs > 0 ? maxAbs / 127f : 1f;
            scales.setAtIndex(JAVA_FLOAT, o, scale);
            for (long i = 0; i < perChannel; i++) {
                int level = Math.round(w.data().getAtIndex(JAVA_FLOAT_UNALIGNED, base + i) / scale);
                q.set(JAVA_BYTE, base + i, (byte) Math.max(-127, Math.min(127, level)));
            }
        }
        out.put(w.name(), new Tensor(w.name(), w.shape(), ElementType.S8, q));
        String scaleName = Quantization.weightScaleName(layer);
        out.put(scaleName, new Tensor(scaleName, new long[] {channels}, scales));
    }
}
