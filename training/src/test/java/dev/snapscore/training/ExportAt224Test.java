package dev.snapscore.training;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real input size, 224x224, on a handful of photos (one of them corrupt): a short run, an export the
 * engine reproduces within 1e-4, and a second export that replaces the first whole.
 */
class ExportAt224Test {
    @TempDir
    Path dir;

    @Test
    void exportsAt224AndSkipsTheCorruptPhotoByName() throws IOException {
        Path photos = dir.resolve("photos"), model = dir.resolve("model");
        SyntheticPhotos.writeFolders(photos, 5, 21);
        Path corrupt = Files.writeString(photos.resolve("vertical/zz-corrupt.jpg"), "\u00ff\u00d8\u00ff truncated");
        String[] args = {"--data", photos.toString(), "--width", "0.03125", "--head", "16,8", "--epochs", "1",
                "--batch", "4", "--validation", "0.3", "--augment", "--export-anyway", "--checkpoints", dir.resolve("ck").toString(),
                "--export", model.toString()};
        Train run = Train.run(args);
        assertEquals(0, run.code(), run.out() + run.err());
        assertTrue(run.out().contains("data: 11 images in 2 classes"), run.out());
        assertTrue(run.out().contains("unreadable image, skipped: " + corrupt.toAbsolutePath()), run.out());
        assertTrue(run.out().contains("training on 6 images, validating on 4"), run.out());
        assertTrue(run.figure("exported", "max abs diff ") <= 1e-4 && run.figure("exported", "probabilities, ") <= 1e-4, run.out());
        assertTrue(Files.readString(model.resolve("spec.json")).contains("\"height\" : 224"));

        // again into the same folder: replaced whole, no leftovers beside it
        Train again = Train.run(args);
        assertEquals(0, again.code(), again.out() + again.err());
        try (var s = Files.list(dir)) {
            assertEquals(java.util.List.of("ck", "model", "photos"), s.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void refusesToReplaceAFolderThatIsNotAModel() throws IOException {
        Path photos = dir.resolve("photos"), precious = Files.createDirectories(dir.resolve("precious"));
        Files.writeString(precious.resolve("thesis.txt"), "do not lose");
        SyntheticPhotos.writeFolders(photos, 3, 22);
        Train run = Train.run("--data", photos.toString(), "--input-size", "32", "--width", "0.03125", "--head", "4",
                "--epochs", "1", "--validation", "0.4", "--export-anyway", "--checkpoints", dir.resolve("ck").toString(),
                "--export", precious.toString());
        assertEquals(2, run.code(), run.out() + run.err());
        assertTrue(run.err().contains("exists and is not a model directory"), run.err());
        assertEquals("do not lose", Files.readString(precious.resolve("thesis.txt")));
    }
}
