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
 * @param values optional ordinal value per label (e.g. 0..9 for like-count buckets), or null; the
 *               expected score of an image is Σ pᵢ·valueᵢ
 */
public record ModelSpec(String name, InputShape input, Preprocess preprocess, List<Layer> layers,
                        List<String> labels, List<Double> values) {

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
                    req.add(new Tensor.ShapeRequirement(conv.weightName(), new long[] {conv.out(), c, win.kernelH(), win.kernelW()}));
                    req.add(new Tensor.ShapeRequirement(conv.biasName(), new long[] {conv.out()}));
                    h = win.outHeight((int) h);
                    w = win.outWidth((int) w);
                    c = conv.out();
                }
                case Layer.MaxPool pool -> {
                    h = pool.window().outHeight((int) h);
                    w = pool.window().outWidth((int) w);
                }
                case Layer.Flatten f -> features = c * h * w;
                case Layer.Dense d -> {
                    req.add(new Tensor.ShapeRequirement(d.weightName(), new long[] {d.out(), features}));
                    req.add(new Tensor.ShapeRequirement(d.biasName(), new long[] {d.out()}));
                    features = d.out();
                }
                case Layer.Dropout d -> { }
            }
        }
        return req;
    }

    /** Checks that the weights hold every tensor this spec needs, with the right shape. */
    public void checkWeights(Weights weights) {
        for (Tensor.ShapeRequirement r : weightShapes()) {
            weights.get(r.name(), r.shape());
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
