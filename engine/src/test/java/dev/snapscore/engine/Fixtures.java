package dev.snapscore.engine;

import dev.snapscore.engine.spec.Tensor;

import java.net.URISyntaxException;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

/** The reference fixtures copied from ../shared/fixtures into test resources (see their README). */
public final class Fixtures {
    private Fixtures() {
    }

    /** The two fixture models: conv widths 8..64 with an NCHW flatten, and 16..64 with an NHWC flatten. */
    public static final String[] MODELS = {"vgg-mini-nchw", "vgg-mini-nhwc"};

    static Path root() {
        try {
            return Path.of(Fixtures.class.getResource("/fixtures/README.md").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Path model(String name) {
        return root().resolve("models").resolve(name);
    }

    static Path image(String name) {
        return root().resolve("images").resolve(name);
    }

    public static float[] floats(Tensor t) {
        return t.data().toArray(JAVA_FLOAT_UNALIGNED);
    }

    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        double max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        return max;
    }
}
