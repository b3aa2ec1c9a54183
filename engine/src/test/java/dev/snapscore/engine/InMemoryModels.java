package dev.snapscore.engine;

import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/** Builds small models from literal weights, for tests whose expected outputs are worked out by hand. */
public final class InMemoryModels {
    private InMemoryModels() {
    }

    /** A spec over the given layers; labels "0".."n-1" from the last dense layer's width. */
    public static ModelSpec spec(InputShape input, List<Layer> layers) {
        int classes = 0;
        for (Layer l : layers) if (l instanceof Layer.Dense d) classes = d.out();
        return new ModelSpec("test", input, Preprocess.CAFFE, layers, ModelSpec.indexLabels(classes), null);
    }

    /** The model with tensors taken from {@code values}, shaped as the spec requires. */
    public static LoadedModel build(ModelSpec spec, Map<String, float[]> values) {
        Arena arena = Arena.ofShared();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Tensor.ShapeRequirement r : spec.weightShapes()) {
            float[] v = values.get(r.name());
            if (v == null) throw new IllegalArgumentException("test gives no values for " + r.name());
            MemorySegment data = arena.allocateFrom(JAVA_FLOAT, v);
            tensors.put(r.name(), new Tensor(r.name(), r.shape(), data));
        }
        return new LoadedModel(spec, new Weights(arena, tensors));
    }

    /** Random weights for every tensor of {@code spec}: He-scaled Gaussian weights, biases with deviation 0.1. */
    public static Map<String, float[]> randomWeights(ModelSpec spec, SplittableRandom random) {
        Map<String, float[]> values = new HashMap<>();
        for (Tensor.ShapeRequirement r : spec.weightShapes()) {
            long[] shape = r.shape();
            int count = (int) Tensor.elementCount(shape);
            double std = shape.length > 1 ? Math.sqrt(2.0 * shape[0] / count) : 0.1;
            float[] v = new float[count];
            for (int i = 0; i < count; i++) v[i] = (float) (random.nextGaussian() * std);
            values.put(r.name(), v);
        }
        return values;
    }

    /** An n×n identity matrix, flattened row-major. */
    static float[] identity(int n) {
        float[] m = new float[n * n];
        for (int i = 0; i < n; i++) m[i * n + i] = 1;
        return m;
    }
}
