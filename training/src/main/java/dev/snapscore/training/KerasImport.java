package dev.snapscore.training;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import dev.snapscore.engine.spec.Window;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.bytedeco.hdf5.Attribute;
import org.bytedeco.hdf5.H5File;
import org.bytedeco.hdf5.StrType;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerPointer;
import org.deeplearning4j.nn.modelimport.keras.Hdf5Archive;
import org.deeplearning4j.nn.modelimport.keras.KerasModel;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Keras Sequential VGG-family model ({@code .h5}: conv, max-pool, flatten, dense, dropout layers, as the
 * original study saved its VGG16 + head, or GlobalAveragePooling2D in place of the flatten, as transfer
 * learning on {@code VGG16(include_top=False)} does) read by DL4J's Keras import, then described in the engine's terms.
 * Keras is channels-last, so the flatten is NHWC; DL4J has already put conv kernels in OIHW.
 */
final class KerasImport {
    private KerasImport() {
    }

    /** The imported DL4J network and the same model in the engine's format (owning its weights). */
    record Imported(MultiLayerNetwork net, LoadedModel model, boolean channelsLast) implements AutoCloseable {
        /** DL4J's outputs for NCHW inputs (transposed to NHWC first when the network is channels-last). */
        ModelExport.Dl4jOutputs outputs(INDArray nchw) {
            return ModelExport.Dl4jOutputs.of(net, channelsLast ? nchw.permute(0, 2, 3, 1).dup('c') : nchw);
        }

        @Override
        public void close() {
            model.close();
        }
    }

    static Imported read(Path h5) {
        if (!Files.isRegularFile(h5)) throw new IllegalArgumentException("no such Keras model: " + h5);
        MultiLayerNetwork net;
        String config;
        try {
            // The config is read here rather than by DL4J's Hdf5Archive, which reads string attributes into a
            // fixed 2 KB buffer first: a VGG16's config is larger, and HDF5 writes all of it into that buffer.
            config = modelConfig(h5);
            net = new KerasModel().modelBuilder().modelJson(config).weightsHdf5Filename(h5.toString())
                    .enforceTrainingConfig(false).buildSequential().getMultiLayerNetwork();
        } catch (ModelFormatException e) {
            throw e;
        } catch (Exception e) {
            throw new ModelFormatException(h5 + ": DL4J's Keras import failed: " + e.getMessage(), e);
        }
        List<Layer> layers = new ArrayList<>();
        Map<String, INDArray> params = new LinkedHashMap<>();
        boolean channelsLast = false, globalPool = false;
        int pools = 0;
        long[] flattenedFrom = null; // (H, W, C) at the flatten
        for (int i = 0; i < net.getnLayers(); i++) {
            org.deeplearning4j.nn.conf.layers.Layer conf = net.getLayer(i).conf().getLayer();
            String name = conf.getLayerName();
            InputPreProcessor pre = net.getLayerWiseConfigurations().getInputPreProcess(i);
            if (pre instanceof CnnToFeedForwardPreProcessor f) {
                FlattenOrder order = f.getFormat() == CNN2DFormat.NHWC ? FlattenOrder.NHWC : FlattenOrder.NCHW;
                layers.add(new Layer.Flatten(order));
                flattenedFrom = new long[] {f.getInputHeight(), f.getInputWidth(), f.getNumChannels()};
            }
            switch (conf) {
                case ConvolutionLayer c when !(conf instanceof SubsamplingLayer) -> {
                    channelsLast = c.getCnn2dDataFormat() == CNN2DFormat.NHWC;
                    int[] k = c.getKernelSize(), s = c.getStride(), p = padding(c.getConvolutionMode(), c.getPadding(), k, s, name);
                    layers.add(new Layer.Conv(name, (int) c.getNOut(), new Window(k[0], k[1], s[0], s[1], p[0], p[1], p[0], p[1]),
                            activation(c.getActivationFn(), name, false)));
                    params.put(name + ".weight", net.getLayer(i).getParam("W"));
                    params.put(name + ".bias", net.getLayer(i).getParam("b"));
                }
                case SubsamplingLayer p -> {
                    if (p.getPoolingType() != PoolingType.MAX) throw unsupported(h5, name, "pooling " + p.getPoolingType());
                    int[] k = p.getKernelSize(), s = p.getStride(), pad = padding(p.getConvolutionMode(), p.getPadding(), k, s, name);
                    layers.add(new Layer.MaxPool(new Window(k[0], k[1], s[0], s[1], pad[0], pad[1], pad[0], pad[1])));
                    pools++;
                }
                case GlobalPoolingLayer g -> {
                    if (g.getPoolingType() != PoolingType.AVG) throw unsupported(h5, name, "global pooling " + g.getPoolingType());
                    // GlobalAveragePooling2D: one value per channel, which DL4J hands the dense layers as (N, C).
                    layers.add(new Layer.GlobalAveragePool());
                    layers.add(new Layer.Flatten(FlattenOrder.NHWC));
                    globalPool = true;
                }
                case DropoutLayer d -> layers.add(new Layer.Dropout((float) (1 - retain(d))));
                case DenseLayer d -> dense(layers, params, net, i, name, d);
                case OutputLayer o -> dense(layers, params, net, i, name, o);
                case LossLayer l -> {
                    if (!(l.getActivationFn() instanceof ActivationIdentity)) throw unsupported(h5, name, "loss layer activation " + l.getActivationFn());
                }
                default -> throw unsupported(h5, name, conf.getClass().getSimpleName());
            }
        }
        if (flattenedFrom == null && !globalPool) throw unsupported(h5, "(model)", "no Flatten or global pool before the dense layers");
        // Keras stores the input size in its config; for a VGG stack (2x2/2 pools on even sizes) it is the
        // flattened map times 2 per pool. A global pool hides the map's size: then it is the config's own
        // batch_input_shape. The engine checks every shape against this below.
        long scale = 1L << pools;
        InputShape input = globalPool ? declaredInput(h5, config)
                : new InputShape(3, (int) (flattenedFrom[0] * scale), (int) (flattenedFrom[1] * scale));
        ModelSpec spec = new ModelSpec(h5.getFileName().toString().replaceFirst("\\.h5$", ""), input, Preprocess.CAFFE, layers,
                ModelSpec.indexLabels(((Layer.Dense) layers.stream().filter(l -> l instanceof Layer.Dense).reduce((a, b) -> b).orElseThrow()).out()),
                null);
        Arena arena = Arena.ofShared();
        try {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, INDArray> e : params.entrySet()) {
                INDArray a = e.getValue();
                if (e.getKey().endsWith(".bias")) a = a.reshape(a.length());
                tensors.put(e.getKey(), ModelExport.tensor(arena, e.getKey(), a));
            }
            return new Imported(net, new LoadedModel(spec, new Weights(arena, tensors)), channelsLast);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The root attribute {@code model_config} (Keras' model JSON), fixed- or variable-length, read whole. */
    static String modelConfig(Path h5) {
        Loader.load(org.bytedeco.hdf5.global.hdf5.class);
        synchronized (Hdf5Archive.LOCK_OBJECT) { // HDF5 is not thread-safe; DL4J locks on this
            try (H5File file = new H5File(h5.toString(), org.bytedeco.hdf5.global.hdf5.H5F_ACC_RDONLY())) {
                if (!file.attrExists("model_config")) {
                    throw new ModelFormatException(h5 + " has no model_config attribute: not a whole Keras model (save_weights files hold weights only)");
                }
                try (Attribute a = file.openAttribute("model_config"); StrType type = a.getStrType()) {
                    if (type.isVariableStr()) {
                        try (PointerPointer<BytePointer> p = new PointerPointer<>(1)) {
                            a.read(type, p);
                            return new BytePointer(p.get(0)).getString(java.nio.charset.StandardCharsets.UTF_8);
                        }
                    }
                    try (BytePointer buffer = new BytePointer(a.getStorageSize())) {
                        a.read(type, buffer);
                        byte[] bytes = new byte[(int) a.getStorageSize()];
                        buffer.get(bytes);
                        return new String(bytes, java.nio.charset.StandardCharsets.UTF_8).replace("\u0000", "");
                    }
                }
            }
        }
    }

    /** The first layer's {@code batch_input_shape}, [null, H, W, 3], from a Sequential model's config. */
    private static InputShape declaredInput(Path h5, String config) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(config);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(h5 + ": model_config is not valid JSON: " + e.getOriginalMessage());
        }
        JsonNode layers = root.path("config").isArray() ? root.path("config") : root.path("config").path("layers"); // Keras < 2.2.3: a list
        JsonNode shape = layers.path(0).path("config").path("batch_input_shape");
        if (shape.size() != 4 || !shape.get(1).canConvertToInt() || !shape.get(2).canConvertToInt() || shape.get(3).asInt() != 3) {
            throw unsupported(h5, "(model)", "a global pool without a [null, H, W, 3] batch_input_shape on the first layer (got " + shape + ")");
        }
        return new InputShape(3, shape.get(1).asInt(), shape.get(2).asInt());
    }

    /** Dense (or DL4J's output layer); any dropout DL4J attached to it acts in training only. */
    private static void dense(List<Layer> layers, Map<String, INDArray> params, MultiLayerNetwork net, int i, String name,
                              BaseLayer d) {
        layers.add(new Layer.Dense(name, (int) ((org.deeplearning4j.nn.conf.layers.FeedForwardLayer) d).getNOut(),
                activation(d.getActivationFn(), name, true)));
        params.put(name + ".weight", net.getLayer(i).getParam("W").transpose()); // (in, out) → (out, in)
        params.put(name + ".bias", net.getLayer(i).getParam("b"));
    }

    private static double retain(DropoutLayer d) {
        if (d.getIDropout() instanceof org.deeplearning4j.nn.conf.dropout.Dropout dr) return dr.getP();
        return 1;
    }

    private static int[] padding(ConvolutionMode mode, int[] pad, int[] k, int[] s, String name) {
        if (mode == ConvolutionMode.Same) {
            if (s[0] != 1 || s[1] != 1 || k[0] % 2 == 0 || k[1] % 2 == 0) {
                throw new ModelFormatException(name + ": 'same' padding is only mapped for odd kernels at stride 1");
            }
            return new int[] {k[0] / 2, k[1] / 2};
        }
        return pad;
    }

    private static Activation activation(IActivation a, String name, boolean softmaxAllowed) {
        if (a instanceof ActivationReLU) return Activation.RELU;
        if (a instanceof ActivationIdentity) return Activation.NONE;
        if (softmaxAllowed && a instanceof ActivationSoftmax) return Activation.SOFTMAX;
        throw new ModelFormatException(name + ": activation " + a + " is not one the engine runs (relu, linear, softmax last)");
    }

    private static ModelFormatException unsupported(Path h5, String layer, String what) {
        return new ModelFormatException(h5 + ": layer " + layer + ": " + what + " is not supported by snapscore's format");
    }
}
