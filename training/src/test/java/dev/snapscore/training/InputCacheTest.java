package dev.snapscore.training;

import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.training.data.FolderDataset;
import dev.snapscore.training.data.Labelled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The training inputs are normalised as asked: a plain-colour photo's planes against the formula by hand. */
class InputCacheTest {
    @Test
    void photosAreNormalisedAsThePreprocessingSays(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("photos");
        for (String c : new String[] {"a", "b"}) {
            BufferedImage image = new BufferedImage(50, 40, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = image.createGraphics();
            g.setColor(new Color(250, 128, 10));
            g.fillRect(0, 0, 50, 40);
            g.dispose();
            SyntheticPhotos.write(image, Files.createDirectories(data.resolve(c)).resolve("plain.png"), "png");
        }
        Labelled all = FolderDataset.read(data);
        // (pixel - mean) * scale in each preprocessing's channel order: torchvision RGB, Caffe BGR.
        check(all, Preprocess.TORCHVISION, dir.resolve("tv"), (250 - 123.675f) / 58.395f, (128 - 116.28f) / 57.12f, (10 - 103.53f) / 57.375f);
        check(all, Preprocess.CAFFE, dir.resolve("caffe"), 10 - 103.939f, 128 - 116.779f, 250 - 123.68f);
    }

    private static void check(Labelled all, Preprocess p, Path cacheDir, float... planes) throws Exception {
        int size = 32;
        try (InputCache cache = InputCache.build(EngineCli.locate(), all, size, p, cacheDir)) {
            float[] x = new float[3 * size * size];
            cache.copy(1, x, 0);
            for (int c = 0; c < 3; c++) {
                for (int i : new int[] {0, size * size / 2 + 7, size * size - 1}) {
                    assertEquals(planes[c], x[c * size * size + i], 1e-4, p + " channel " + c + " pixel " + i);
                }
            }
        }
    }
}
