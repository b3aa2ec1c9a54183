package dev.snapscore.engine.reference;

import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.Weights;
import dev.snapscore.engine.spec.Window;
import org.junit.jupiter.api.Test;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The oracle itself, on hand-worked cases and against ONNX Runtime's fixture outputs. */
class ReferenceNetworkTest {

    @Test
    void handWorkedOps() {
        // 3x3 ones kernel, pad 1, over 4x4 of 1..16: neighbourhood sums.
        float[] x = new float[16];
        for (int i = 0; i < 16; i++) x[i] = i + 1;
        float[] ones = new float[9];
        Arrays.fill(ones, 1);
        assertArrayEquals(new float[] {14, 24, 30, 22, 33, 54, 63, 45, 57, 90, 99, 69, 46, 72, 78, 54},
                ReferenceNetwork.conv2d(x, 1, 1, 4, 4, ones, new float[] {0}, 1, Window.square(3, 1, 1)));
        // Two input channels (2, 3), two outputs, bias: out0 = 2 + 3 + 1 = 6, out1 = 2·2 - 3 = 1.
        assertArrayEquals(new float[] {6, 1}, ReferenceNetwork.conv2d(new float[] {2, 3}, 1, 2, 1, 1,
                new float[] {1, 1, 2, -1}, new float[] {1, 0}, 2, Window.square(1, 1, 0)));
        assertArrayEquals(new float[] {6, 8, 14, 16}, ReferenceNetwork.maxPool(x, 1, 1, 4, 4, Window.square(2, 2, 0)));
        // 3x3/1/1 max-pool: each output is the max of its clipped neighbourhood.
        assertArrayEquals(new float[] {6, 7, 8, 8, 10, 11, 12, 12, 14, 15, 16, 16, 14, 15, 16, 16},
                ReferenceNetwork.maxPool(x, 1, 1, 4, 4, Window.square(3, 1, 1)));
        assertArrayEquals(new float[] {1, 10, 2, 20}, ReferenceNetwork.flatten(new float[] {1, 2, 10, 20}, 1, 2, 1, 2, FlattenOrder.NHWC));
        assertArrayEquals(new float[] {-2, 4}, ReferenceNetwork.dense(new float[] {1, 2, 3}, 1, 3,
                new float[] {1, 0, -1, 2, 1, 0}, new float[] {0, 0}, 2));
        assertArrayEquals(new float[] {0.09003057f, 0.24472847f, 0.66524096f},
                ReferenceNetwork.softmax(new float[] {1, 2, 3}, 1, 3), 1e-7f);
        assertArrayEquals(new float[] {0.5f, 0.5f}, ReferenceNetwork.softmax(new float[] {1000, 1000}, 1, 2));
    }

    /** Two of the eight fixture samples per model (the plain loops take a few seconds per image). */
    @Test
    void matchesOnnxRuntimeOnTheFixtures() throws URISyntaxException {
        for (String name : new String[] {"vgg-mini-nchw", "vgg-mini-nhwc"}) {
            Path dir = Path.of(getClass().getResource("/fixtures/models/" + name).toURI());
            try (LoadedModel model = ModelDirectory.read(dir); Weights io = Safetensors.read(dir.resolve("io.safetensors"))) {
                int perImage = (int) model.spec().input().elements(), classes = model.spec().classes();
                float[] input = io.tensors().get("input").data().asSlice(0, 2L * perImage * 4).toArray(JAVA_FLOAT_UNALIGNED);
                float[] want = io.tensors().get("logits").data().asSlice(0, 2L * classes * 4).toArray(JAVA_FLOAT_UNALIGNED);
                float[] got = ReferenceNetwork.logits(model.spec(), model.weights(), input, 2);
                double diff = 0;
                for (int i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]));
                assertTrue(diff <= 1e-3, name + ": reference vs ONNX Runtime " + diff);
            }
        }
    }
}
