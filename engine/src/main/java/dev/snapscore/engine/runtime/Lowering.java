package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.DataType;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Quantization;
import dev.snapscore.engine.spec.Window;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The decisions of a plan, made in plain Java before any oneDNN call: for one batch size, which operation
 * each layer becomes (direct, Winograd, int8 or bf16 convolution; inner product or decompressing matmul;
 * pools; softmax), with its shapes and the storage of what it reads and writes. {@link NetworkPlan} then
 * emits each with oneDNN.
 *
 * @param cpu      the instruction sets (VNNI decides how int8 dense layers run)
 * @param bf16     run the f32 layers in bf16 (the caller checked the CPU has it)
 * @param winograd     which f32 convolutions may run as Winograd (never together with bf16)
 * @param winogradOnly of those, only the layers named here (as {@link ConvolutionTimer} picked them); null: all
 */
record Lowering(CpuCapabilities cpu, boolean bf16, Winograd.Rule winograd, Set<String> winogradOnly) {
    Lowering(CpuCapabilities cpu, boolean bf16, Winograd.Rule winograd) {
        this(cpu, bf16, winograd, null);
    }

    /** The same decisions, with Winograd for exactly the layers in {@code layers} that it can run. */
    Lowering withWinogradOnly(Set<String> layers) {
        return new Lowering(cpu, bf16, Winograd.Rule.ANY, Set.copyOf(layers));
    }

    /** {@code spec} for batches of {@code batch} images, in execution order, ending with the softmax. */
    List<Lowered> lower(ModelSpec spec, int batch) {
        if (bf16 && spec.quantization() != null) throw new IllegalArgumentException("bf16 runs f32 models; this one is int8");
        NonVnniInt8.Adapted adapted = NonVnniInt8.adapt(spec, cpu.int8Vnni());
        Quantization q = adapted.spec().quantization();
        Map<String, String> decompress = adapted.decompress();
        List<Layer> layers = spec.layers();
        Layer.Dense lastDense = null;
        for (Layer l : layers) if (l instanceof Layer.Dense d) lastDense = d;

        InputShape in = spec.input();
        long[] dims = {batch, in.channels(), in.height(), in.width()};
        // What the activation holds (the caller's f32 to begin with), and the encoding the next quantised
        // layer reads: the spec's input encoding, then each quantised layer's output encoding.
        Storage held = Storage.F32;
        Storage quantisedIn = q == null ? Storage.F32 : Storage.of(q.input());
        FlattenOrder flatten = null; // set from a flatten to the dense layer that consumes it
        List<Lowered> out = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Lowered next = switch (layers.get(i)) {
                case Layer.Conv conv -> {
                    Window w = conv.window();
                    long[] dst = {batch, conv.out(), w.outHeight((int) dims[2]), w.outWidth((int) dims[3])};
                    if (runsWinograd(conv, q, dims, batch)) {
                        // Winograd reads channel planes (nchw); anything else reads oneDNN's nhwc faster
                        // (pooling nchw takes 5 to 9 times as long).
                        boolean planesOut = i + 1 < layers.size() && layers.get(i + 1) instanceof Layer.Conv c
                                && runsWinograd(c, q, dst, batch);
                        yield new Lowered.WinogradConv(conv, dims, dst, planesOut);
                    }
                    long[] weights = {conv.out(), dims[1], w.kernelH(), w.kernelW()};
                    yield quantised(q, conv.name())
                            ? new Lowered.DirectConv(conv, dims, dst, weights, quantisedIn, Storage.of(q.layers().get(conv.name())), DataType.S8)
                            : new Lowered.DirectConv(conv, dims, dst, weights, floating(), floating(), floatingWeights());
                }
                case Layer.MaxPool pool -> {
                    Window w = pool.window();
                    yield new Lowered.MaxPool(w, dims, new long[] {batch, dims[1], w.outHeight((int) dims[2]), w.outWidth((int) dims[3])}, held);
                }
                case Layer.GlobalAveragePool g -> new Lowered.GlobalAveragePool(dims, new long[] {batch, dims[1], 1, 1}, held);
                case Layer.Flatten f -> {
                    flatten = f.order();
                    yield null;
                }
                case Layer.Dense dense when decompress.containsKey(dense.weightName()) -> {
                    long features = 1;
                    for (int d = 1; d < dims.length; d++) features *= dims[d];
                    Lowered l = new Lowered.DecompressedDense(dense, dims, features, flatten,
                            decompress.get(dense.weightName()), dense == lastDense);
                    flatten = null;
                    yield l;
                }
                case Layer.Dense dense -> {
                    long[] weights = flatten != null
                            ? new long[] {dense.out(), dims[1], dims[2], dims[3]}
                            : new long[] {dense.out(), dims[1]};
                    boolean logits = dense == lastDense;
                    Lowered l = quantised(q, dense.name())
                            ? new Lowered.InnerProduct(dense, dims, weights, flatten, quantisedIn,
                            Storage.of(q.layers().get(dense.name())), DataType.S8, logits)
                            : new Lowered.InnerProduct(dense, dims, weights, flatten, floating(),
                            logits ? Storage.F32 : floating(), floatingWeights(), logits);
                    flatten = null;
                    yield l;
                }
                case Layer.Dropout d -> null; // identity at inference
            };
            if (next == null) continue;
            out.add(next);
            dims = switch (next) {
                case Lowered.DirectConv c -> c.dst();
                case Lowered.WinogradConv c -> c.dst();
                case Lowered.MaxPool p -> p.dst();
                case Lowered.GlobalAveragePool p -> p.dst();
                case Lowered.InnerProduct d -> new long[] {batch, d.layer().out()};
                case Lowered.DecompressedDense d -> new long[] {batch, d.layer().out()};
                case Lowered.Softmax s -> s.logits();
            };
            held = next.out();
            if (!(next instanceof Lowered.MaxPool || next instanceof Lowered.GlobalAveragePool)) quantisedIn = next.out();
        }
        out.add(new Lowered.Softmax(new long[] {batch, spec.classes()}));
        return List.copyOf(out);
    }

    private static boolean quantised(Quantization q, String layer) {
        return q != null && q.isQuantised(layer);
    }

    private boolean runsWinograd(Layer.Conv conv, Quantization q, long[] src, long batch) {
        return !bf16 && !quantised(q, conv.name()) && Winograd.applies(conv, src[1], batch, src[2], src[3], winograd)
                && (winogradOnly == null || winogradOnly.contains(conv.name()));
    }

    /** The storage of activations between layers that the spec leaves in f32. */
    private Storage floating() {
        return bf16 ? Storage.BF16 : Storage.F32;
    }

    private DataType floatingWeights() {
        return bf16 ? DataType.BF16 : DataType.F32;
    }
}
