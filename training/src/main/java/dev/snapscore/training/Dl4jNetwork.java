package dev.snapscore.training;

import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import dev.snapscore.engine.spec.Window;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.dropout.Dropout;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.schedule.ISchedule;

import java.lang.foreign.Arena;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;


/**
 * An {@link Architecture} as a DL4J {@link MultiLayerNetwork}, and the weights between the two layouts.
 * DL4J layer i is the i-th conv, max-pool, global average pool or dense layer of the spec (flatten and
 * dropout have no layer of their own: DL4J flattens in a preprocessor, or the global pool gives (N, C)
 * already, and applies dropout to a layer's input), except that with batch normalisation each conv is
 * followed by its BN layer and an activation layer, which the export folds back into it. Conv weights are OIHW
 * in both; DL4J's dense weights are (in, out), the engine's (out, in).
 */
public final class Dl4jNetwork {
    private Dl4jNetwork() {
    }

    /**
     * Adam following {@code learningRate} (a schedule over iterations), with weight decay (DL4J applies it to
     * weights, not biases); {@code batchNorm} puts a batch normalisation after each convolution, before its ReLU.
     */
    public record Hyper(ISchedule learningRate, double weightDecay, long seed, boolean freezeBase, boolean batchNorm, double bnDecay) {
        public Hyper {
            if (!(bnDecay > 0 && bnDecay < 1)) throw new IllegalArgumentException("batch norm decay must be in (0, 1), got " + bnDecay);
            Objects.requireNonNull(learningRate, "learningRate");
            if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
            if (batchNorm && freezeBase) throw new IllegalArgumentException("batch normalisation is for a base trained from scratch, not a frozen one");
        }
    }

    /** DL4J's default epsilon, named here because the export folds it into the weights. */
    static final double BN_EPS = 1e-5;
    /** DL4J's default decay of the running statistics (PyTorch's momentum 0.1). */
    static final double BN_DECAY = 0.9;

    /**
     * The running statistics' decay for {@code stepsPerEpoch}: DL4J's 0.9 unless that would leave more than
     * 5% of their initial (0, 1) after the first epoch; a small data set (4 steps an epoch) would otherwise be
     * validated, and exported, with statistics that are mostly the initial guess, while every batch it trained
     * on was normalised by its own.
     */
    static double bnDecay(int stepsPerEpoch) {
        return Math.min(BN_DECAY, Math.pow(0.05, 1.0 / Math.max(1, stepsPerEpoch)));
    }

    public static MultiLayerNetwork build(Architecture arch, Hyper hyper) {
        var list = new NeuralNetConfiguration.Builder()
                .seed(hyper.seed())
                .dataType(DataType.FLOAT)
                .updater(new Adam(hyper.learningRate()))
                .weightDecay(hyper.weightDecay())
                // Keras' default (glorot_uniform), as the original study had: it shrinks activations layer by
                // layer, so Caffe-scaled inputs (±128) start with small logits; He init would saturate the softmax.
                .weightInit(WeightInit.XAVIER_UNIFORM)
                .list();
        int index = 0;
        for (Layer l : arch.base()) {
            org.deeplearning4j.nn.conf.layers.Layer layer = switch (l) {
                case Layer.Conv c -> {
                    Window w = symmetric(c.window(), c.name());
                    var activation = c.activation() == Activation.RELU ? org.nd4j.linalg.activations.Activation.RELU
                            : org.nd4j.linalg.activations.Activation.IDENTITY;
                    var conv = new ConvolutionLayer.Builder(w.kernelH(), w.kernelW()).stride(w.strideH(), w.strideW())
                            .padding(w.padTop(), w.padLeft()).nOut(c.out()).name(c.name());
                    if (!hyper.batchNorm()) yield conv.activation(activation).build();
                    // conv (no bias: BN's beta is one) → BN → the activation, folded back into one conv at export.
                    // The activation is a layer of its own: DL4J's BatchNormalization ignores the one it is given.
                    list.layer(index++, conv.activation(org.nd4j.linalg.activations.Activation.IDENTITY).hasBias(false).build());
                    list.layer(index++, new BatchNormalization.Builder().eps(BN_EPS).decay(hyper.bnDecay()).useLogStd(false).name(c.name() + ".bn").build());
                    yield new ActivationLayer.Builder().activation(activation).build();
                }
                case Layer.MaxPool p -> {
                    Window w = symmetric(p.window(), "maxpool");
                    yield new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(w.kernelH(), w.kernelW())
                            .stride(w.strideH(), w.strideW()).padding(w.padTop(), w.padLeft()).build();
                }
                default -> throw new IllegalArgumentException("not a base layer: " + l);
            };
            // A frozen base keeps its weights (no updater, no decay) and needs no gradients at all.
            list.layer(index++, hyper.freezeBase() ? new FrozenLayer(layer) : layer);
        }
        if (arch.pool() == ModelGenerator.Pool.GAP) {
            // Keras' GlobalAveragePooling2D: (N, C, H, W) to (N, C), no parameters to freeze.
            list.layer(index++, new GlobalPoolingLayer.Builder(PoolingType.AVG).build());
        }
        double retain = 1 - arch.dropout(); // DL4J's dropOut(x) takes the probability of keeping a unit
        for (int i = 0; i < arch.head().size(); i++) {
            DenseLayer.Builder dense = new DenseLayer.Builder().nOut(arch.head().get(i)).name(Architecture.denseName(i))
                    .activation(org.nd4j.linalg.activations.Activation.RELU);
            if (i > 0 && arch.dropout() > 0) dense.dropOut(new Dropout(retain));
            list.layer(index++, dense.build());
        }
        OutputLayer.Builder out = new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(arch.classes())
                .name(Architecture.denseName(arch.head().size())).activation(org.nd4j.linalg.activations.Activation.SOFTMAX);
        if (!arch.head().isEmpty() && arch.dropout() > 0) out.dropOut(new Dropout(retain));
        list.layer(index, out.build());
        MultiLayerConfiguration conf = list
                .setInputType(InputType.convolutional(arch.input().height(), arch.input().width(), arch.input().channels()))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    private static Window symmetric(Window w, String name) {
        if (w.padTop() != w.padBottom() || w.padLeft() != w.padRight()) {
            throw new IllegalArgumentException(name + ": DL4J pads symmetrically; padding " + w + " is not");
        }
        return w;
    }

    /**
     * The DL4J layer index of each spec layer name that has weights, in order. With batch normalisation a
     * conv's BN layer is the next one, then its activation layer.
     */
    static Map<String, Integer> weightLayers(Architecture arch, boolean batchNorm) {
        Map<String, Integer> index = new LinkedHashMap<>();
        int i = 0;
        for (Layer l : arch.base()) {
            if (l instanceof Layer.Conv c) {
                index.put(c.name(), i);
                if (batchNorm) i += 2;
            }
            i++;
        }
        if (arch.pool() == ModelGenerator.Pool.GAP) i++;
        for (int d = 0; d <= arch.head().size(); d++) index.put(Architecture.denseName(d), i++);
        return index;
    }

    /** Sets the conv base's weights from engine tensors (OIHW), checking every shape. */
    public static void loadBase(MultiLayerNetwork net, Architecture arch, Weights weights) {
        Map<String, Integer> index = weightLayers(arch, false);
        for (Layer.Conv c : arch.convs()) {
            org.deeplearning4j.nn.api.Layer layer = net.getLayer(index.get(c.name()));
            INDArray w = layer.getParam("W"), b = layer.getParam("b");
            Tensor tw = weights.get(c.weightName(), w.shape()), tb = weights.get(c.biasName(), b.length());
            w.assign(Nd4j.create(floats(tw), w.shape(), 'c'));
            b.assign(Nd4j.create(floats(tb), b.shape(), 'c'));
        }
    }

    /** Whether the network was built with batch normalisation after its convolutions. */
    static boolean hasBatchNorm(MultiLayerNetwork net) {
        for (org.deeplearning4j.nn.api.Layer l : net.getLayers()) {
            if (l.conf().getLayer() instanceof BatchNormalization) return true;
        }
        return false;
    }

    /**
     * Every weight in the engine's layout and names, in native memory owned by the returned Weights. A batch
     * normalisation is folded into the convolution before it: y = γ(Wx − μ)/√(σ² + ε) + β is the convolution
     * with weights W·s and bias β − μ·s, s = γ/√(σ² + ε) per output channel (σ² and μ: DL4J's running
     * statistics, what it uses at inference), so the engine's graph is the plain VGG.
     */
    public static Weights export(MultiLayerNetwork net, Architecture arch) {
        boolean batchNorm = hasBatchNorm(net);
        Map<String, Integer> index = weightLayers(arch, batchNorm);
        Arena arena = Arena.ofShared();
        try {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, Integer> e : index.entrySet()) {
                org.deeplearning4j.nn.api.Layer layer = net.getLayer(e.getValue());
                INDArray w = layer.getParam("W");
                boolean dense = w.rank() == 2;
                String wn = e.getKey() + ".weight", bn = e.getKey() + ".bias";
                if (!dense && batchNorm) {
                    float[][] folded = foldBatchNorm(w, net.getLayer(e.getValue() + 1));
                    tensors.put(wn, ModelExport.tensor(arena, wn, Nd4j.create(folded[0], w.shape(), 'c')));
                    tensors.put(bn, ModelExport.tensor(arena, bn, Nd4j.create(folded[1], new long[] {folded[1].length}, 'c')));
                    continue;
                }
                INDArray b = layer.getParam("b");
                INDArray engineW = dense ? w.transpose() : w; // (in, out) → (out, in)
                tensors.put(wn, ModelExport.tensor(arena, wn, engineW));
                tensors.put(bn, ModelExport.tensor(arena, bn, b.reshape(b.length())));
            }
            return new Weights(arena, tensors);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** {weights, bias} of a bias-free conv (OIHW {@code w}) followed by the batch normalisation {@code bn}. */
    static float[][] foldBatchNorm(INDArray w, org.deeplearning4j.nn.api.Layer bn) {
        var conf = (BatchNormalization) bn.conf().getLayer();
        if (conf.isUseLogStd()) throw new IllegalStateException("batch normalisation with log-std statistics is not folded");
        float[] weights = w.dup('c').data().asFloat();
        double[] gamma = doubles(bn.getParam(BatchNormalizationParamInitializer.GAMMA)),
                beta = doubles(bn.getParam(BatchNormalizationParamInitializer.BETA)),
                mean = doubles(bn.getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN)),
                var = doubles(bn.getParam(BatchNormalizationParamInitializer.GLOBAL_VAR));
        int out = (int) w.size(0), per = weights.length / out;
        if (gamma.length != out) throw new IllegalStateException("batch normalisation has " + gamma.length + " channels, the conv " + out);
        float[] bias = new float[out];
        for (int o = 0; o < out; o++) {
            double s = gamma[o] / Math.sqrt(var[o] + conf.getEps());
            for (int i = o * per; i < (o + 1) * per; i++) weights[i] = (float) (weights[i] * s);
            bias[o] = (float) (beta[o] - mean[o] * s);
        }
        return new float[][] {weights, bias};
    }

    private static double[] doubles(INDArray a) {
        return a.dup('c').data().asDouble();
    }

    private static float[] floats(Tensor t) {
        return t.toFloatArray();
    }

    /** Parameter counts: (all, trainable). */
    static long[] parameterCounts(MultiLayerNetwork net) {
        long all = 0, trainable = 0;
        for (org.deeplearning4j.nn.api.Layer l : net.getLayers()) {
            long n = l.numParams();
            all += n;
            if (!(l instanceof org.deeplearning4j.nn.layers.FrozenLayer)) trainable += n;
        }
        return new long[] {all, trainable};
    }
}
