package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Arg;
import dev.snapscore.dnnl.DataType;
import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.engine.Fixtures;
import dev.snapscore.engine.InMemoryModels;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Precision;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelFormats;
import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import dev.snapscore.engine.spec.Window;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** bf16 plans against f32 ones on the same weights and inputs, and what they run. */
class Bf16Test {
    private static final Lowering F32 = new Lowering(CpuCapabilities.detect(), false, Winograd.Rule.NEVER);
    // bf16 without asking the CPU: oneDNN runs bf16 primitives (slowly) on any AVX-512 CPU.
    private static final Lowering BF16 = new Lowering(CpuCapabilities.detect(), true, Winograd.Rule.NEVER);

    /** Random VGG-like stacks: 3×3 convolutions with pools, a flatten in either order, two dense layers. */
    private static ModelSpec randomSpec(SplittableRandom random) {
        InputShape input = new InputShape(3, 8 + random.nextInt(17), 8 + random.nextInt(17));
        List<Layer> layers = new ArrayList<>();
        for (int block = 0; block < 2; block++) {
            for (int k = 0; k < 1 + random.nextInt(2); k++) {
                layers.add(new Layer.Conv("conv" + layers.size(), 8 + random.nextInt(40), Window.square(3, 1, 1), Activation.RELU));
            }
            layers.add(new Layer.MaxPool(Window.square(2, 2, 0)));
        }
        layers.add(new Layer.Flatten(random.nextBoolean() ? FlattenOrder.NCHW : FlattenOrder.NHWC));
        layers.add(new Layer.Dense("dense" + layers.size(), 16 + random.nextInt(48), Activation.RELU));
        layers.add(new Layer.Dense("logits", 2 + random.nextInt(9), Activation.SOFTMAX));
        return InMemoryModels.spec(input, layers);
    }

    /**
     * The PyTorch-trained fixture models on their photos: logits within 2% of f32's (measured: 1.21% and 1.16%; bf16
     * keeps 8 bits of mantissa, 0.2 to 0.4% per rounding, and these activations are rounded after each of 10
     * layers), the same top-1 on every input.
     */
    @Test
    void fixtureModelsWithinTwoPercentOfF32() {
        for (String name : Fixtures.MODELS) {
            try (LoadedModel loaded = ModelFormats.read(Fixtures.model(name));
                 Weights io = Safetensors.read(Fixtures.model(name).resolve("io.safetensors"));
                 OneDnnNetwork f32 = new OneDnnNetwork(loaded.spec(), loaded.weights(), F32);
                 OneDnnNetwork bf16 = new OneDnnNetwork(loaded.spec(), loaded.weights(), BF16);
                 OneDnnExecutor a = f32.newExecutor(2); OneDnnExecutor b = bf16.newExecutor(2)) {
                Tensor input = io.tensors().get("input");
                int n = (int) input.dim(0), classes = loaded.spec().classes();
                float[] want = TestRuns.logits(a, input.data(), n, classes), got = TestRuns.logits(b, input.data(), n, classes);
                double error = TestRuns.relativeError(want, got);
                System.out.printf("bf16 %s (%d inputs): relative logit error %.5f%n", name, n, error);
                assertTrue(error <= 0.02 && error > 0, name + ": relative logit error " + error);
                for (int i = 0; i < n; i++) {
                    assertEquals(TestRuns.argmax(want, i * classes, classes), TestRuns.argmax(got, i * classes, classes), name + " input " + i);
                }
            }
        }
    }

    /**
     * Random untrained stacks, which round worse than trained ones (their logits are small differences of large
     * sums): within 2%, and never equal to f32 (the plan must really round).
     */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5})
    void randomNetworksWithinTwoPercentOfF32(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        ModelSpec spec = randomSpec(random);
        int n = 1 + random.nextInt(4);
        try (Arena arena = Arena.ofConfined();
             LoadedModel loaded = InMemoryModels.build(spec, InMemoryModels.randomWeights(spec, random));
             OneDnnNetwork f32 = new OneDnnNetwork(spec, loaded.weights(), F32);
             OneDnnNetwork bf16 = new OneDnnNetwork(spec, loaded.weights(), BF16);
             OneDnnExecutor a = f32.newExecutor(2); OneDnnExecutor b = bf16.newExecutor(2)) {
            MemorySegment x = TestRuns.images(arena, spec.input().elements(), n, seed);
            float[] want = TestRuns.logits(a, x, n, spec.classes()), got = TestRuns.logits(b, x, n, spec.classes());
            double error = TestRuns.relativeError(want, got);
            System.out.printf("bf16 seed %d (batch %d, %s): relative logit error %.5f%n", seed, n, spec.input(), error);
            assertTrue(error <= 0.02, "relative logit error " + error + " for " + spec.layers());
            assertTrue(error > 0, "bf16 rounds: the logits cannot all equal f32's");
        }
    }

    /** On a CPU with bf16 instructions, every conv and dense step reads bf16 through an optimised (not reference) kernel. */
    @Test
    void planRunsBf16Kernels() {
        assumeTrue(Dnnl.hasBf16(), "this CPU has no bf16 instructions (oneDNN: " + Dnnl.cpuIsaName() + ")");
        ModelSpec spec = randomSpec(new SplittableRandom(7));
        try (LoadedModel loaded = InMemoryModels.build(spec, InMemoryModels.randomWeights(spec, new SplittableRandom(7)));
             OneDnnNetwork network = new OneDnnNetwork(spec, loaded.weights(), ModelOptions.defaults().withPrecision(Precision.BF16))) {
            assertTrue(network.bf16());
            for (int batch : new int[] {1, 8}) {
                int weighted = 0;
                for (NetworkPlan.Step step : network.plan(batch).steps) {
                    System.out.println("batch " + batch + " " + step.name() + ": " + step.implementation());
                    assertFalse(step.implementation().startsWith("ref"), step.name() + " runs " + step.implementation());
                    if (!step.name().startsWith("conv") && !step.name().startsWith("dense") && !step.name().equals("logits")) continue;
                    weighted++;
                    assertEquals(DataType.BF16, step.srcDesc().dataType(), step.name() + " reads bf16");
                    for (NetworkPlan.Constant c : step.constants()) {
                        if (c.arg().equals(Arg.WEIGHTS)) assertEquals(DataType.BF16, c.value().desc().dataType(), step.name() + " weights");
                    }
                    DataType wantOut = step.name().equals("logits") ? DataType.F32 : DataType.BF16;
                    assertEquals(wantOut, step.dstDesc().dataType(), step.name() + " writes");
                }
                assertEquals(spec.layers().stream().filter(l -> l instanceof Layer.Conv || l instanceof Layer.Dense).count(), weighted);
            }
        }
    }
}
