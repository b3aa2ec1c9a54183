package dev.snapscore.training;

import org.bytedeco.hdf5.Attribute;
import org.bytedeco.hdf5.DataSet;
import org.bytedeco.hdf5.DataSpace;
import org.bytedeco.hdf5.Group;
import org.bytedeco.hdf5.H5File;
import org.bytedeco.hdf5.PredType;
import org.bytedeco.hdf5.StrType;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes a Keras 2 {@code model.save()} file as h5py lays it out, without Python: the root attribute
 * {@code model_config} (Sequential JSON, a fixed-length string), and {@code model_weights/<layer>/<layer>/
 * kernel:0 | bias:0} with each layer group's {@code weight_names}. The model is VGG16 at a tiny width with
 * the study's kind of head: Flatten, Dense+ReLU, Dropout, Dense+softmax; channels last, as Keras runs it.
 * Kernels are Keras' layouts: conv (kh, kw, in, out), dense (in, out).
 */
final class KerasH5 {
    private KerasH5() {
    }

    /** The Keras-layout arrays written, by dataset path under model_weights, for the test to compare. */
    record Written(Map<String, float[]> arrays, Map<String, long[]> shapes) {
    }

    static Written writeVgg16(Path file, int filters, int size, int hidden, int classes, long seed) {
        return writeVgg16(file, filters, size, hidden, classes, seed, false);
    }

    /** With {@code globalPool}, GlobalAveragePooling2D in place of the Flatten (Keras' transfer-learning head). */
    static Written writeVgg16(Path file, int filters, int size, int hidden, int classes, long seed, boolean globalPool) {
        Loader.load(org.bytedeco.hdf5.global.hdf5.class);
        SplittableRandom random = new SplittableRandom(seed);
        List<String> layers = new ArrayList<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        int[][] blocks = {{1, 1}, {2, 2}, {4, 4, 4}, {8, 8, 8}, {8, 8, 8}};
        int in = 3, h = size;
        boolean first = true;
        for (int b = 0; b < blocks.length; b++) {
            for (int c = 0; c < blocks[b].length; c++) {
                String name = "block" + (b + 1) + "_conv" + (c + 1);
                int out = blocks[b][c] * filters;
                layers.add(layer("Conv2D", name, (first ? "\"batch_input_shape\": [null, " + size + ", " + size + ", 3], \"dtype\": \"float32\", " : "")
                        + "\"filters\": " + out + ", \"kernel_size\": [3, 3], \"strides\": [1, 1], \"padding\": \"same\", "
                        + "\"data_format\": \"channels_last\", \"dilation_rate\": [1, 1], \"activation\": \"relu\", \"use_bias\": true, "
                        + INIT));
                first = false;
                shapes.put(name + "/" + name + "/kernel:0", new long[] {3, 3, in, out});
                shapes.put(name + "/" + name + "/bias:0", new long[] {out});
                in = out;
            }
            layers.add(layer("MaxPooling2D", "block" + (b + 1) + "_pool",
                    "\"pool_size\": [2, 2], \"padding\": \"valid\", \"strides\": [2, 2], \"data_format\": \"channels_last\""));
            h /= 2;
        }
        layers.add(globalPool ? layer("GlobalAveragePooling2D", "avg_pool", "\"data_format\": \"channels_last\"")
                : layer("Flatten", "flatten", "\"data_format\": \"channels_last\""));
        layers.add(layer("Dense", "fc1", "\"units\": " + hidden + ", \"activation\": \"relu\", \"use_bias\": true, " + INIT));
        shapes.put("fc1/fc1/kernel:0", new long[] {globalPool ? in : (long) h * h * in, hidden});
        shapes.put("fc1/fc1/bias:0", new long[] {hidden});
        layers.add(layer("Dropout", "dropout", "\"rate\": 0.5, \"noise_shape\": null, \"seed\": null"));
        layers.add(layer("Dense", "predictions", "\"units\": " + classes + ", \"activation\": \"softmax\", \"use_bias\": true, " + INIT));
        shapes.put("predictions/predictions/kernel:0", new long[] {hidden, classes});
        shapes.put("predictions/predictions/bias:0", new long[] {classes});
        String config = "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"vgg16_selfie\", \"layers\": ["
                + String.join(", ", layers) + "]}, \"keras_version\": \"2.2.4\", \"backend\": \"tensorflow\"}";

        Map<String, float[]> arrays = new LinkedHashMap<>();
        try (H5File f = new H5File(file.toString(), org.bytedeco.hdf5.global.hdf5.H5F_ACC_TRUNC())) {
            stringAttribute(f, "model_config", config);
            stringAttribute(f, "keras_version", "2.2.4");
            stringAttribute(f, "backend", "tensorflow");
            try (Group weights = f.createGroup("model_weights")) {
                Map<String, List<String>> byLayer = new LinkedHashMap<>();
                for (String path : shapes.keySet()) byLayer.computeIfAbsent(path.substring(0, path.indexOf('/')), k -> new ArrayList<>()).add(path);
                for (Map.Entry<String, List<String>> e : byLayer.entrySet()) {
                    String layer = e.getKey();
                    try (Group g = weights.createGroup(layer); Group inner = g.createGroup(layer)) {
                        List<String> names = e.getValue().stream().map(p -> p.substring(layer.length() + 1)).toList();
                        stringArrayAttribute(g, "weight_names", names);
                        for (String path : e.getValue()) {
                            long[] shape = shapes.get(path);
                            float[] values = new float[(int) java.util.Arrays.stream(shape).reduce(1, (x, y) -> x * y)];
                            // LeCun scale: activations shrink layer by layer, so ±128 inputs give unsaturated probabilities
                            double std = Math.sqrt(1.0 / (shape.length == 1 ? 1 : values.length / shape[shape.length - 1]));
                            for (int i = 0; i < values.length; i++) values[i] = (float) (random.nextGaussian() * std * (shape.length == 1 ? 0.1 : 1));
                            arrays.put(path, values);
                            try (DataSpace space = new DataSpace(shape.length, shape);
                                 DataSet ds = inner.createDataSet(path.substring(path.lastIndexOf('/') + 1), PredType.IEEE_F32LE(), space);
                                 FloatPointer data = new FloatPointer(values)) {
                                ds.write(data, PredType.NATIVE_FLOAT());
                            }
                        }
                    }
                }
            }
        }
        return new Written(arrays, shapes);
    }

    private static final String INIT = "\"kernel_initializer\": {\"class_name\": \"VarianceScaling\", \"config\": {\"scale\": 1.0, "
            + "\"mode\": \"fan_avg\", \"distribution\": \"uniform\", \"seed\": null}}, \"bias_initializer\": {\"class_name\": \"Zeros\", "
            + "\"config\": {}}, \"kernel_regularizer\": null, \"bias_regularizer\": null, \"activity_regularizer\": null, "
            + "\"kernel_constraint\": null, \"bias_constraint\": null";

    private static String layer(String cls, String name, String config) {
        return "{\"class_name\": \"" + cls + "\", \"config\": {\"name\": \"" + name + "\", \"trainable\": true, " + config + "}}";
    }

    /** As h5py writes a {@code bytes} value: a scalar fixed-length string. */
    private static void stringAttribute(H5File f, String name, String value) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        try (StrType type = new StrType(PredType.C_S1(), bytes.length); DataSpace scalar = new DataSpace();
             Attribute a = f.createAttribute(name, type, scalar); BytePointer data = new BytePointer(bytes)) {
            a.write(type, data);
        }
    }

    /** As h5py writes a list of bytes: a 1-D array of fixed-length strings, NUL-padded to the longest. */
    private static void stringArrayAttribute(Group g, String name, List<String> values) {
        int width = values.stream().mapToInt(v -> v.getBytes(StandardCharsets.UTF_8).length).max().orElse(1);
        byte[] packed = new byte[width * values.size()];
        for (int i = 0; i < values.size(); i++) {
            byte[] v = values.get(i).getBytes(StandardCharsets.UTF_8);
            System.arraycopy(v, 0, packed, i * width, v.length);
        }
        try (StrType type = new StrType(PredType.C_S1(), width); DataSpace space = new DataSpace(1, new long[] {values.size()});
             Attribute a = g.createAttribute(name, type, space); BytePointer data = new BytePointer(packed)) {
            a.write(type, data);
        }
    }
}
