package dev.snapscore.engine.format;

import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import dev.snapscore.engine.spec.Window;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * VGG-family models with random weights, for benchmarks and tests: He-normal weights (std √(2/fan_in)),
 * so activations keep their scale through ReLU layers, and zero biases. Same config, same bytes.
 */
public final class ModelGenerator {
    /** VGG16's conv widths per block; a max-pool follows each block. */
    static final int[][] VGG16_BLOCKS = {{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}};

    private ModelGenerator() {
    }

    /** What joins the conv base to the dense head. */
    public enum Pool {
        /** The last max-pool's map flattened whole (VGG16's own head: 7×7×512 inputs to the first dense layer). */
        NONE,
        /**
         * A global average pool first, so the head reads one value per channel: Keras' transfer-learning
         * pattern, {@code VGG16(include_top=False)} (all five max-pools kept) + GlobalAveragePooling2D + Dense.
         */
        GAP
    }

    /**
     * @param widthMultiplier scales every conv width (1.0 = VGG16), each at least 1
     * @param head            hidden dense widths (ReLU, dropout 0.5 after each), before the output layer
     * @param inputSize       input height and width (224 for VGG16; must survive 5 halvings)
     * @param pool            what joins the conv base to the head
     * @param layout          the input's layout: NCHW (PyTorch) or NHWC (Keras)
     */
    public record Config(String arch, double widthMultiplier, List<Integer> head, int classes, FlattenOrder flatten,
                         long seed, int inputSize, Pool pool, InputLayout layout) {
        /** VGG16's own head (no global pool), NCHW input. */
        public Config(String arch, double widthMultiplier, List<Integer> head, int classes, FlattenOrder flatten,
                      long seed, int inputSize) {
            this(arch, widthMultiplier, head, classes, flatten, seed, inputSize, Pool.NONE, InputLayout.NCHW);
        }

        public Config {
            if (!"vgg16".equals(arch)) throw new IllegalArgumentException("unknown arch '" + arch + "'; snapscore generates vgg16");
            if (!(widthMultiplier > 0) || widthMultiplier > 16) {
                throw new IllegalArgumentException("width multiplier must be in (0, 16], got " + widthMultiplier);
            }
            head = List.copyOf(head);
            for (int w : head) if (w < 1) throw new IllegalArgumentException("head widths must be >= 1, got " + head);
            if (classes < 1) throw new IllegalArgumentException("classes must be >= 1, got " + classes);
            if (inputSize < 32) throw new IllegalArgumentException("input size must be >= 32 (five 2x2 pools), got " + inputSize);
            Objects.requireNonNull(pool, "pool");
            Objects.requireNonNull(layout, "layout");
        }

        /** Full-size VGG16 with the original selfie study's head: 2048-1024-512-64, 10 classes. */
        public static Config vgg16StudyHead(long seed) {
            return new Config("vgg16", 1.0, List.of(2048, 1024, 512, 64), 10, FlattenOrder.NCHW, seed, 224);
        }
    }

    public static LoadedModel generate(Config c) {
        List<Layer> layers = new ArrayList<>();
        int index = 0;
        for (int[] block : VGG16_BLOCKS) {
            for (int width : block) {
                int out = Math.max(1, (int) Math.round(width * c.widthMultiplier()));
                layers.add(new Layer.Conv("features." + index, out, Window.square(3, 1, 1), Activation.RELU));
                index += 2; // PyTorch numbering: conv, relu
            }
            layers.add(new Layer.MaxPool(Window.square(2, 2, 0)));
            index++;
        }
        if (c.pool() == Pool.GAP) layers.add(new Layer.GlobalAveragePool());
        layers.add(new Layer.Flatten(c.flatten()));
        index = 0;
        for (int width : c.head()) {
            layers.add(new Layer.Dense("classifier." + index, width, Activation.RELU));
            layers.add(new Layer.Dropout(0.5f));
            index += 3; // linear, relu, dropout
        }
        layers.add(new Layer.Dense("classifier." + index, c.classes(), Activation.SOFTMAX));
        List<Double> values = new ArrayList<>();
        for (int i = 0; i < c.classes(); i++) values.add((double) i);
        String name = String.format("vgg16-w%s-%s%s-%dc", trim(c.widthMultiplier()), c.pool() == Pool.GAP ? "gap-" : "",
                c.head().isEmpty() ? "nohead" : String.join("-", c.head().stream().map(String::valueOf).toList()), c.classes());
        ModelSpec spec = new ModelSpec(name, new InputShape(3, c.inputSize(), c.inputSize(), c.layout()), Preprocess.CAFFE,
                layers, ModelSpec.indexLabels(c.classes()), values);

        Arena arena = Arena.ofShared();
        try {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            SplittableRandom random = new SplittableRandom(c.seed());
            for (Tensor.ShapeRequirement r : spec.weightShapes()) {
                long[] shape = r.shape();
                long count = Tensor.elementCount(shape);
                MemorySegment data = arena.allocate(count * Float.BYTES, 64); // zeroed: biases stay 0
                if (shape.length > 1) {
                    long fanIn = count / shape[0];
                    heNormal(data, count, Math.sqrt(2.0 / fanIn), random.split());
                }
                tensors.put(r.name(), new Tensor(r.name(), shape, data));
            }
            return new LoadedModel(spec, new Weights(arena, tensors));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static void heNormal(MemorySegment data, long count, double std, SplittableRandom random) {
        for (long i = 0; i < count; i += 2) {
            // Box–Muller: two normals per pair of uniforms.
            double u1 = 1.0 - random.nextDouble(), u2 = random.nextDouble();
            double radius = Math.sqrt(-2.0 * Math.log(u1)) * std, angle = 2 * Math.PI * u2;
            data.setAtIndex(JAVA_FLOAT, i, (float) (radius * Math.cos(angle)));
            if (i + 1 < count) data.setAtIndex(JAVA_FLOAT, i + 1, (float) (radius * Math.sin(angle)));
        }
    }

    private static String trim(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }
}
