package dev.snapscore.training;

import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.SplittableRandom;

/**
 * Mini-batches from the cached inputs, with optional augmentation for training: a horizontal flip (half the
 * time) and a small random crop — the image shifted by up to {@code maxShift} pixels each way, the edge
 * replicated into the gap, so the size stays the engine's. Augmentation works on the preprocessed planes,
 * after the engine's pipeline, so it never changes what a validation or served image looks like.
 */
final class Batches {
    private final InputCache cache;
    private final int classes;

    Batches(InputCache cache) {
        this.cache = cache;
        this.classes = cache.data().classes();
    }

    /** A batch of the images at {@code indices}; {@code random == null} means no augmentation. */
    DataSet batch(int[] indices, boolean flip, int maxShift, SplittableRandom random) {
        int s = cache.size(), perImage = 3 * s * s;
        float[] features = new float[indices.length * perImage];
        float[] labels = new float[indices.length * classes];
        float[] scratch = random == null ? null : new float[perImage];
        for (int b = 0; b < indices.length; b++) {
            int index = indices[b];
            if (random == null) {
                cache.copy(index, features, b * perImage);
            } else {
                cache.copy(index, scratch, 0);
                boolean mirror = flip && random.nextBoolean();
                int dy = maxShift == 0 ? 0 : random.nextInt(-maxShift, maxShift + 1);
                int dx = maxShift == 0 ? 0 : random.nextInt(-maxShift, maxShift + 1);
                augment(scratch, features, b * perImage, s, mirror, dy, dx);
            }
            labels[b * classes + cache.data().labels()[index]] = 1;
        }
        return new DataSet(Nd4j.create(features, new long[] {indices.length, 3, s, s}, 'c'),
                Nd4j.create(labels, new long[] {indices.length, classes}, 'c'));
    }

    /** out(c, y, x) = in(c, clamp(y + dy), clamp(mirror ? s-1-x+dx : x + dx)). */
    static void augment(float[] in, float[] out, int offset, int s, boolean mirror, int dy, int dx) {
        for (int c = 0; c < 3; c++) {
            int plane = c * s * s;
            for (int y = 0; y < s; y++) {
                int sy = Math.clamp(y + dy, 0, s - 1);
                for (int x = 0; x < s; x++) {
                    int sx = Math.clamp((mirror ? s - 1 - x : x) + dx, 0, s - 1);
                    out[offset + plane + y * s + x] = in[plane + sy * s + sx];
                }
            }
        }
    }
}
