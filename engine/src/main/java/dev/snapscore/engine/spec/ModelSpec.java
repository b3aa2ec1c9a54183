package dev.snapscore.engine.spec;

import dev.snapscore.engine.ModelFormatException;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * A VGG-family classifier: convolutions and max-pools, one flatten, dense layers, softmax over labels.
 *
 * @param values       optional ordinal value per label (e.g. 0..9 for like-count buckets), or null; the
 *                     expected score of an image is Σ pᵢ·valueᵢ
 * @param quantization how an int8 model stores weights and activations, or null for an f32 model
 */
public record ModelSpec(String name, InputShape input, Preprocess preprocess, List<Layer> layers,
                        List<String> labels, List<Double> values, Quantization quantization) {

    /** An f32 model. */
    public ModelSpec(String name, InputShape input, Preprocess preprocess, List<Layer> layers,
                     List<String> labels, List<Double> values) {
        this(name, input, preprocess, layers, labels, values, null);
    }

    public ModelSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(preprocess, "preprocess");
        layers = List.copyOf(layers);
        labels = List.copyOf(labels);
        values = values == null ? null : List.copyOf(values);
        checkStructure(layers);
        int classes = lastDense(layers).out();
        if (labels.size() != classes) {
            throw new ModelFormatException("spec has " + labels.size() + " labels but the last dense layer has "
                    + classes + " outputs");
        }
        if (values != null && values.size() != labels.size()) {
            throw new ModelFormatException("spec has " + values.size() + " label values for " + labels.size() + " labels");
        }
        if (quantization != null) checkQuantization(layers, quantization);
    }

    /** This spec with another quantisation (null: f32). */
    public ModelSpec withQuantization(Quantization q) {
        return new ModelSpec(name, input, preprocess, layers, labels, values, q);
    }

    public boolean isQuantised(String layerName) {
        return quantization != null && quantization.isQuantised(layerName);
    }

    public int classes() {
        return labels.size();
    }

    /** Labels "0".."n-1", for models that carry none. */
    public static List<String> indexLabels(int classes) {
        List<String> labels = new ArrayList<>(classes);
        for (int i = 0; i < classes; i++) labels.add(Integer.toString(i));
        return labels;
    }

    /** The shape of every layer's output for one image, checked: (C, H, W) before the flatten, (units) after. */
    public List<long[]> outputShapes() {
        List<long[]> shapes = new ArrayList<>(layers.size());
        long c = input.channels(), h = input.height(), w = input.width();
        long features = -1;
        for (Layer layer : layers) {
            switch (layer) {
                case Layer.Conv conv -> {
                    h = checkedOut(conv.window().outHeight((int) h), "conv " + conv.name(), h, w);
                    w = conv.window().outWidth((int) w);
                    c = conv.out();
                    shapes.add(new long[] {c, h, w});
                }
                case Layer.MaxPool pool -> {
                    h = checkedOut(pool.window().outHeight((int) h), "maxpool", h, w);
                    w = pool.window().outWidth((int) w);
                    shapes.add(new long[] {c, h, w});
                }
                case Layer.GlobalAveragePool g -> {
                    h = 1;
                    w = 1;
                    shapes.add(new long[] {c, h, w});
                }
                case Layer.Flatten f -> {
                    features = c * h * w;
                    shapes.add(new long[] {features});
                }
                case Layer.Dense d -> {
                    features = d.out();
                    shapes.add(new long[] {features});
                }
                case Layer.Dropout d -> shapes.add(shapes.getLast().clone());
            }
        }
        return shapes;
    }

    /**
     * The expected shape of every weight tensor, by name, in layer order: conv OIHW, dense (out, in).
     * For a dense layer right after an NHWC flatten, "in" is still the flattened length.
     */
    public List<Tensor.ShapeRequirement> weightShapes() {
        List<Tensor.ShapeRequirement> req = new ArrayList<>();
        long c = input.channels(), h = input.height(), w = input.width();
        long features = -1;
        for (Layer layer : layers) {
            switch (layer) {
                case Layer.Conv conv -> {
                    Window win = conv.window();
                    weighted(req, conv.name(), conv.weightName(), new long[] {conv.out(), c, win.kernelH(), win.kernelW()});
                    req.add(new Tensor.ShapeRequirement(conv.biasName(), new long[] {conv.out()}));
                    h = win.outHeight((int) h);
                    w = win.outWidth((int) w);
                    c = conv.out();
                }
                case Layer.MaxPool pool -> {
                    h = pool.window().outHeight((int) h);
                    w = pool.window().outWidth((int) w);
                }
                case Layer.GlobalAveragePool g -> {
                    h = 1;
                    w = 1;
                }
                case Layer.Flatten f -> features = c * h * w;
                case Layer.Dense d -> {
                    weighted(req, d.name(), d.weightName(), new long[] {d.out(), features});
                    req.add(new Tensor.ShapeRequirement(d.biasName(), new long[] {d.out()}));
                    features = d.out();
                }
                case Layer.Dropout d -> { }
            }
        }
        return req;
    }

    /** A layer's weight: f32, or s8 with one f32 scale per output channel when the layer is quantised. */
    private void weighted(List<Tensor.ShapeRequirement> req, String layer, String weightName, long[] shape) {
        if (isQuantised(layer)) {
            req.add(new Tensor.ShapeRequirement(weightName, shape, ElementType.S8));
            req.add(new Tensor.ShapeRequirement(Quantization.weightScaleName(layer), new long[] {shape[0]}));
        } else {
            req.add(new Tensor.ShapeRequirement(weightName, shape));
        }
    }

    /** Checks that the weights hold every tensor this spec needs, with the right shape and type. */
    public void checkWeights(Weights weights) {
        for (Tensor.ShapeRequirement r : weightShapes()) {
            weights.get(r);
        }
    }

    /**
     * A quantised layer must get an integer input (the network input's encoding, or the previous weighted
     * layer's output, through any max-pools or global average pool); u8 outputs only follow a ReLU; the
     * logits stay f32.
     */
    private static void checkQuantization(List<Layer> layers, Quantization q) {
        Set<String> weighted = new HashSet<>();
        Layer.Dense last = lastDense(layers);
        Quantization.Encoding current = q.input();
        for (Layer layer : layers) {
            String name;
            Activation activation;
            switch (layer) {
                case Layer.Conv c -> { name = c.name(); activation = c.activation(); }
                case Layer.Dense d -> { name = d.name(); activation = d.activation(); }
                default -> { continue; }
            }
            weighted.add(name);
            Quantization.Encoding out = q.layers().get(name);
            if (out == null) {
                current = Quantization.Encoding.F32;
                continue;
            }
            if (!current.type().isInteger()) {
                throw new ModelFormatException("quantisation: layer " + name + " is int8 but its input is f32; "
                        + "give the input (or the layer before it) an s8 or u8 encoding");
            }
            if (out.type() == ElementType.U8 && activation != Activation.RELU) {
                throw new ModelFormatException("quantisation: layer " + name + " has a u8 output but no relu; "
                        + "negative values need s8");
            }
            if (layer == last && out.type() != ElementType.F32) {
                throw new ModelFormatException("quantisation: the last layer, " + name + ", must output f32 logits");
            }
            current = out;
        }
        for (String name : q.layers().keySet()) {
            if (!weighted.contains(name)) {
                throw new ModelFormatException("quantisation names layer '" + name + "', which is not a conv or dense layer");
            }
        }
    }

    private static long checkedOut(int out, String what, long h, long w) {
        if (out < 1) {
            throw new ModelFormatException(what + ": window does not fit a " + h + "x" + w + " input");
        }
        return out;
    }

    static Layer.Dense lastDense(List<Layer> layers) {
        for (int i = layers.size() - 1; i >= 0; i--) {
            if (layers.get(i) instanceof Layer.Dense d) return d;
        }
        throw new ModelFormatException("spec has no dense layer");
    }

    private static void checkStructure(List<Layer> layers) {
        int flattenAt = -1;
        Set<String> names = new HashSet<>();
        for (int i = 0; i < layers.size(); i++) {
            Layer layer = layers.get(i);
            switch (layer) {
                case Layer.Flatten f -> {
                    if (flattenAt >= 0) throw new ModelFormatException("spec has more than one flatten (layers " + flattenAt + " and " + i + ")");
                    flattenAt = i;
                }
                case Layer.Conv conv -> {
                    if (flattenAt >= 0) throw new ModelFormatException("conv " + conv.name() + " (layer " + i + ") comes after the flatten");
                    if (!names.add(conv.name())) throw new ModelFormatException("two layers are named " + conv.name());
                }
                case Layer.MaxPool p -> {
                    if (flattenAt >= 0) throw new ModelFormatException("maxpool (layer " + i + ") comes after the flatten");
                }
                case Layer.GlobalAveragePool g -> {
                    if (flattenAt >= 0) throw new ModelFormatException("global average pool (layer " + i + ") comes after the flatten");
                }
                case Layer.Dense d -> {
                    if (flattenAt < 0) throw new ModelFormatException("dense " + d.name() + " (layer " + i + ") comes before any flatten");
                    if (!names.add(d.name())) throw new ModelFormatException("two layers are named " + d.name());
                }
                case Layer.Dropout d -> { }
            }
        }
        if (flattenAt < 0) throw new ModelFormatException("spec has no flatten layer");
        Layer.Dense last = lastDense(layers);
        for (Layer layer : layers) {
            if (layer instanceof Layer.Dense d && d != last && d.activation() == Activation.SOFTMAX) {
                throw new ModelFormatException("dense " + d.name() + ": softmax is only allowed on the last dense layer");
            }
        }
    }
}
