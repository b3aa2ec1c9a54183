package dev.snapscore.training;

import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Preprocess;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The network, described in the engine's own terms: a convolution base (conv and max-pool layers, as in a
 * {@link ModelSpec}), optionally a global average pool, a flatten, a dense head of ReLU layers each followed
 * by dropout, and a softmax output. The DL4J network is built from this and the exported spec is this, so
 * the two cannot drift apart.
 *
 * @param base    conv and max-pool layers, in order
 * @param pool    what joins the base to the head: nothing (the last map flattened) or a global average pool
 * @param head    hidden dense widths
 * @param dropout the rate after each hidden dense layer (the fraction dropped, as Keras counts it)
 */
public record Architecture(InputShape input, List<Layer> base, ModelGenerator.Pool pool, List<Integer> head, double dropout,
                           int classes) {
    /** The original selfie study's head. */
    public static final List<Integer> STUDY_HEAD = List.of(2048, 1024, 512, 64);

    public Architecture {
        base = List.copyOf(base);
        head = List.copyOf(head);
        if (base.isEmpty()) throw new IllegalArgumentException("the convolution base is empty");
        Objects.requireNonNull(pool, "pool");
        if (input.layout() != InputLayout.NCHW) {
            throw new IllegalArgumentException("training reads NCHW inputs (DL4J's), not " + input.layout());
        }
        for (Layer l : base) {
            if (!(l instanceof Layer.Conv || l instanceof Layer.MaxPool)) {
                throw new IllegalArgumentException("the convolution base holds conv and maxpool layers only, not " + l);
            }
        }
        for (int w : head) if (w < 1) throw new IllegalArgumentException("head widths must be >= 1, got " + head);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("dropout must be in [0, 1), got " + dropout);
        if (classes < 2) throw new IllegalArgumentException("a classifier needs at least 2 classes, got " + classes);
    }

    /**
     * VGG16's base with every conv width scaled by {@code widthMultiplier} (at least 1 channel each), for
     * {@code inputSize}² inputs (224 is VGG16's; the topology works down to 32, which quick tests use).
     */
    public static Architecture vgg16(double widthMultiplier, ModelGenerator.Pool pool, List<Integer> head, double dropout,
                                     int classes, int inputSize) {
        // The engine's generator owns VGG16's layer table; borrow its base, drop its random weights.
        try (LoadedModel generated = ModelGenerator.generate(new ModelGenerator.Config("vgg16", widthMultiplier,
                List.of(), classes, FlattenOrder.NCHW, 0, inputSize))) {
            return new Architecture(generated.spec().input(), convBase(generated.spec()), pool, head, dropout, classes);
        }
    }

    /** The conv and max-pool layers before a spec's global pool or flatten. */
    public static List<Layer> convBase(ModelSpec spec) {
        List<Layer> base = new ArrayList<>();
        for (Layer l : spec.layers()) {
            if (l instanceof Layer.Flatten || l instanceof Layer.GlobalAveragePool) break;
            base.add(l);
        }
        return base;
    }

    public List<Layer.Conv> convs() {
        return base.stream().filter(l -> l instanceof Layer.Conv).map(l -> (Layer.Conv) l).toList();
    }

    /**
     * The engine spec of this network. Flatten order NCHW: DL4J's CnnToFeedForwardPreProcessor flattens
     * an NCHW activation in C order, index (c·H + h)·W + w (after a global pool, one value per channel).
     * {@code preprocess} is the normalisation the training inputs had.
     */
    public ModelSpec spec(String name, Preprocess preprocess, List<String> labels, List<Double> values) {
        List<Layer> layers = new ArrayList<>(base);
        if (pool == ModelGenerator.Pool.GAP) layers.add(new Layer.GlobalAveragePool());
        layers.add(new Layer.Flatten(FlattenOrder.NCHW));
        for (int i = 0; i < head.size(); i++) {
            layers.add(new Layer.Dense(denseName(i), head.get(i), Activation.RELU));
            if (dropout > 0) layers.add(new Layer.Dropout((float) dropout));
        }
        layers.add(new Layer.Dense(denseName(head.size()), classes, Activation.SOFTMAX));
        return new ModelSpec(name, input, preprocess, layers, labels, values);
    }

    /** PyTorch's numbering, as the engine's generator and ONNX exports use: linear, relu, dropout. */
    static String denseName(int index) {
        return "classifier." + (3 * index);
    }
}
