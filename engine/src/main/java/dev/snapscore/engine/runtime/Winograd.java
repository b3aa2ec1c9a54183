package dev.snapscore.engine.runtime;

import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.Window;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.stream.IntStream;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

/**
 * The arithmetic of Winograd's F(4×4, 3×3) convolution (Lavin and Gray, 2016, points 0, ±1, ±2, ∞): each
 * 4×4 block of output comes from a 6×6 input tile d and a 3×3 filter g as Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, with
 * 36 multiplications per channel pair where the direct form needs 144. {@link NetworkPlan} runs the
 * transforms and the 36 channel matrix products as oneDNN primitives; this class makes their constants.
 */
final class Winograd {
    /** Input tile side, output block side, and tile positions (36 matrix products per layer). */
    static final int TILE = 6, BLOCK = 4, POSITIONS = TILE * TILE;

    /**
     * Which convolutions run as Winograd: those with at least {@code minChannels} input channels and
     * {@code minTiles} tiles per run (images × tiles per image).
     */
    record Rule(int minChannels, int minTiles) {
        /**
         * Measured per VGG16 layer on a 2-core AVX2 machine (oneDNN's verbose timings): with 256 input channels
         * conv3_2 takes 15 ms against 24 at batch 1; below 32 tiles the 36 matrix products are too small to run
         * fast (conv5 at batch 1, 16 tiles: 6.3 ms either way; at batch 2, 32 tiles: 9.4 against 12.2 ms). With
         * 128 channels it pays only from batch 8 (conv3_1: 75 against 98 ms; at batch 1, 13.6 against 12.6),
         * and little against its buffers (conv2_2 at batch 8 would need 2 × 116 MB for 2 ms a photo), so those
         * layers stay direct.
         */
        static final Rule MEASURED = new Rule(256, 32);
        static final Rule NEVER = new Rule(Integer.MAX_VALUE, Integer.MAX_VALUE);
    }

    private static final double[][] BT = {
            {4, 0, -5, 0, 1, 0},
            {0, -4, -4, 1, 1, 0},
            {0, 4, -4, -1, 1, 0},
            {0, -2, -1, 2, 1, 0},
            {0, 2, -1, -2, 1, 0},
            {0, 4, 0, -5, 0, 1}};
    private static final double[][] G = {
            {1 / 4.0, 0, 0},
            {-1 / 6.0, -1 / 6.0, -1 / 6.0},
            {-1 / 6.0, 1 / 6.0, -1 / 6.0},
            {1 / 24.0, 1 / 12.0, 1 / 6.0},
            {1 / 24.0, -1 / 12.0, 1 / 6.0},
            {0, 0, 1}};
    private static final double[][] AT = {
            {1, 1, 1, 1, 1, 0},
            {0, 1, -1, 2, -2, 0},
            {0, 1, 1, 4, 4, 0},
            {0, 1, -1, 8, -8, 1}};

    private Winograd() {
    }

    /**
     * Whether a convolution with {@code channels} inputs of {@code height}×{@code width}, {@code images} at a
     * time, runs as F(4, 3) under {@code rule}: it must have a 3×3 kernel, stride 1 and one pixel of padding on
     * every side (so the output is the input's size).
     */
    static boolean applies(Layer.Conv conv, long channels, long images, long height, long width, Rule rule) {
        Window w = conv.window();
        long tiles = images * Math.ceilDiv(height, BLOCK) * Math.ceilDiv(width, BLOCK);
        return w.kernelH() == 3 && w.kernelW() == 3 && w.strideH() == 1 && w.strideW() == 1
                && w.padTop() == 1 && w.padLeft() == 1 && w.padBottom() == 1 && w.padRight() == 1
                && channels >= rule.minChannels() && tiles >= rule.minTiles();
    }

    /**
     * The input transform as 36 convolution kernels of 6×6, (36, 1, 6, 6) oihw: kernel (i, j) is row i of Bᵀ
     * times row j of Bᵀ, so convolving a channel with stride 4 gives (Bᵀ d B)[i][j] of every tile d.
     */
    static MemorySegment inputKernels(Arena arena) {
        MemorySegment k = arena.allocate(POSITIONS * POSITIONS * Float.BYTES, 64);
        for (int i = 0; i < TILE; i++)
            for (int j = 0; j < TILE; j++)
                for (int y = 0; y < TILE; y++)
                    for (int x = 0; x < TILE; x++)
                        k.setAtIndex(JAVA_FLOAT, ((i * TILE + j) * TILE + y) * TILE + x, (float) (BT[i][y] * BT[j][x]));
        return k;
    }

    /**
     * The output transform as a (16, 36) matrix: row (a, b) holds Aᵀ[a][i] × Aᵀ[b][j] at column (i, j), so
     * multiplying it by a tile's 36 products gives the tile's 4×4 outputs.
     */
    static MemorySegment outputMatrix(Arena arena) {
        MemorySegment m = arena.allocate(BLOCK * BLOCK * POSITIONS * Float.BYTES, 64);
        for (int a = 0; a < BLOCK; a++)
            for (int b = 0; b < BLOCK; b++)
                for (int i = 0; i < TILE; i++)
                    for (int j = 0; j < TILE; j++)
                        m.setAtIndex(JAVA_FLOAT, (a * BLOCK + b) * POSITIONS + i * TILE + j, (float) (AT[a][i] * AT[b][j]));
        return m;
    }

    /**
     * Transformed filters G g Gᵀ of a (out, in, 3, 3) f32 weight tensor (any alignment), in a shared
     * {@code arena}, as (36, in, out) row-major: for each tile position, the (in, out) matrix the transformed inputs are multiplied by.
     */
    static MemorySegment filters(MemorySegment weights, int out, int in, Arena arena) {
        MemorySegment u = arena.allocate((long) POSITIONS * in * out * Float.BYTES, 64);
        // In parallel over output channels (each writes its own column): VGG16's five layers take about a
        // second on one core, at load.
        IntStream.range(0, out).parallel().forEach(k -> {
            double[] g = new double[9];
            double[][] gg = new double[TILE][3];
            for (int c = 0; c < in; c++) {
                long base = ((long) k * in + c) * 9;
                for (int e = 0; e < 9; e++) g[e] = weights.getAtIndex(JAVA_FLOAT_UNALIGNED, base + e);
                for (int i = 0; i < TILE; i++)
                    for (int b = 0; b < 3; b++)
                        gg[i][b] = G[i][0] * g[b] + G[i][1] * g[3 + b] + G[i][2] * g[6 + b];
                for (int i = 0; i < TILE; i++) {
                    for (int j = 0; j < TILE; j++) {
                        double v = gg[i][0] * G[j][0] + gg[i][1] * G[j][1] + gg[i][2] * G[j][2];
                        u.setAtIndex(JAVA_FLOAT, ((long) (i * TILE + j) * in + c) * out + k, (float) v);
                    }
                }
            }
        });
        return u;
    }

    /**
     * A bias of {@code out} values (any alignment) repeated for each of {@code tiles} tiles, (1, tiles × out):
     * the output transform's bias, whose columns run over (tile, output channel).
     */
    static MemorySegment biasRow(MemorySegment bias, int out, long tiles, Arena arena) {
        MemorySegment row = arena.allocate(tiles * out * Float.BYTES, 64);
        for (long t = 0; t < tiles; t++) {
            MemorySegment.copy(bias, JAVA_FLOAT_UNALIGNED, 0, row, JAVA_FLOAT, t * out * Float.BYTES, out);
        }
        return row;
    }
}
