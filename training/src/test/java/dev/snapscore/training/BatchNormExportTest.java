package dev.snapscore.training;

import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.format.SpecJson;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Preprocess;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Batch normalisation folded into the convolutions at export: the engine, running the plain VGG graph,
 * reproduces DL4J's network with its BN layers (inference mode: running statistics) within 1e-3 on the logits.
 */
class BatchNormExportTest {
    @TempDir
    Path dir;

    @Test
    void foldedExportMatchesDl4jWithItsBatchNormLayers() throws Exception {
        Architecture arch = Architecture.vgg16(0.0625, ModelGenerator.Pool.NONE, List.of(16), 0, 3, 32);
        MultiLayerNetwork net = Dl4jNetwork.build(arch, new Dl4jNetwork.Hyper(LearningRate.warmupCosine(1e-3, 1, 4), 1e-4, 7, false, true, 0.9));
        assertEquals(13 * 3 + 5 + 2, net.getLayers().length, "13 conv + BN + ReLU, 5 pools, 2 dense layers");
        Nd4j.getRandom().setSeed(11);
        // A few training steps move the running statistics away from DL4J's initial (0, 1) ...
        for (int i = 0; i < 3; i++) {
            INDArray x = Nd4j.rand(DataType.FLOAT, 8, 3, 32, 32).subi(0.5).muli(255);
            INDArray y = Nd4j.zeros(DataType.FLOAT, 8, 3);
            for (int r = 0; r < 8; r++) y.putScalar(r, r % 3, 1);
            net.fit(new DataSet(x, y));
        }
        INDArray var = net.getLayer(1).getParam(BatchNormalizationParamInitializer.GLOBAL_VAR);
        assertTrue(Math.abs(var.meanNumber().doubleValue() - 1) > 0.5, "running variance still near 1: " + var);
        // ... and γ, β and the means are set far from the identity, so a fold that dropped any of them would show.
        for (org.deeplearning4j.nn.api.Layer l : net.getLayers()) {
            if (!(l.conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.BatchNormalization)) continue;
            INDArray std = l.getParam(BatchNormalizationParamInitializer.GLOBAL_VAR).dup();
            org.nd4j.linalg.ops.transforms.Transforms.sqrt(std, false);
            l.getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN).addi(Nd4j.rand(DataType.FLOAT, std.shape()).subi(0.5).muli(std));
            INDArray gamma = l.getParam(BatchNormalizationParamInitializer.GAMMA);
            gamma.assign(Nd4j.rand(DataType.FLOAT, gamma.shape()).muli(1.5).addi(0.5));
            INDArray beta = l.getParam(BatchNormalizationParamInitializer.BETA);
            beta.assign(Nd4j.rand(DataType.FLOAT, beta.shape()).subi(0.5));
        }

        Path model = dir.resolve("model");
        ModelSpec spec = arch.spec("bn", Preprocess.CAFFE, List.of("a", "b", "c"), null);
        try (var weights = Dl4jNetwork.export(net, arch)) {
            ModelExport.write(spec, weights, model);
        }
        // The engine's graph is the plain VGG: convolutions (with ReLU), pools, dense; no normalisation layer.
        ModelSpec written = SpecJson.read(model.resolve("spec.json")).spec();
        assertEquals(13, written.layers().stream().filter(l -> l instanceof Layer.Conv).count());
        assertEquals(spec.layers(), written.layers());

        INDArray inputs = Nd4j.rand(DataType.FLOAT, 4, 3, 32, 32).subi(0.5).muli(255);
        ModelExport.Dl4jOutputs dl4j = ModelExport.Dl4jOutputs.of(net, inputs);
        assertTrue(dl4j.logits().amaxNumber().doubleValue() > 0.5, "logits too small to tell anything: " + dl4j.logits());
        ModelExport.Check check = ModelExport.verify(EngineCli.locate(), dl4j, model, inputs, 1e-4, dir);
        System.out.printf("BN folded: engine vs DL4J max abs diff %.3g in logits (largest %.3g), %.3g in probabilities%n",
                check.logits(), dl4j.logits().amaxNumber().doubleValue(), check.probabilities());
        assertEquals(0, check.exitCode(), check.output());
        assertTrue(check.logits() <= 1e-3 && check.probabilities() <= 1e-4, check.output());
    }
}
