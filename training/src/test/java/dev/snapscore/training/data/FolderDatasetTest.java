package dev.snapscore.training.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FolderDatasetTest {
    @TempDir
    Path dir;

    private void touch(String... paths) throws IOException {
        for (String p : paths) {
            Path f = dir.resolve(p);
            Files.createDirectories(f.getParent());
            Files.write(f, new byte[] {1});
        }
    }

    @Test
    void classesAreSortedFolderNamesAndNonImagesAreIgnored() throws IOException {
        touch("selfie/b.JPG", "selfie/a.png", "selfie/notes.txt", "notselfie/x/y.jpeg", "notselfie/.DS_Store", ".hidden/z.jpg");
        Labelled d = FolderDataset.read(dir);
        assertEquals(List.of("notselfie", "selfie"), d.classNames());
        assertEquals(List.of(dir.resolve("notselfie/x/y.jpeg"), dir.resolve("selfie/a.png"), dir.resolve("selfie/b.JPG")), d.files());
        assertArrayEquals(new int[] {0, 1, 1}, d.labels());
        assertNull(d.values(), "names are not numbers: no ordinal values");
    }

    @Test
    void numericFolderNamesGiveOrdinalValues() throws IOException {
        touch("0/a.jpg", "1/a.jpg", "10/a.jpg", "2/a.jpg");
        Labelled d = FolderDataset.read(dir);
        assertEquals(List.of("0", "1", "10", "2"), d.classNames());
        assertEquals(List.of(0.0, 1.0, 10.0, 2.0), d.values());
    }

    @Test
    void badFoldersGiveSpecificErrors() throws IOException {
        var e = assertThrows(IllegalArgumentException.class, () -> FolderDataset.read(dir.resolve("nope")));
        assertTrue(e.getMessage().startsWith("no such data folder"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> FolderDataset.read(dir));
        assertTrue(e.getMessage().contains("needs a folder per class"), e.getMessage());
        touch("selfie/a.jpg", "notselfie/readme.txt");
        e = assertThrows(IllegalArgumentException.class, () -> FolderDataset.read(dir));
        assertTrue(e.getMessage().contains("class folder " + dir.resolve("notselfie") + " holds no images"), e.getMessage());
    }
}
