package dev.snapscore.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/** The demo model shipped in models/vgg-mini: found through the launcher's snapscore.home, else the current folder. */
final class BundledModel {
    private BundledModel() {
    }

    static Path path() {
        String home = System.getProperty("snapscore.home");
        Path p = (home != null ? Path.of(home) : Path.of("")).resolve("models").resolve("vgg-mini");
        if (!Files.isDirectory(p)) {
            throw new IllegalArgumentException("no --model given and the bundled model is not at " + p.toAbsolutePath());
        }
        return p;
    }
}
