package dev.snapscore.engine.batch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/** The image files under a set of folders (or given directly), in a stable order. */
public final class ImageFiles {
    /** Extensions looked at when walking folders; files given directly are taken whatever their name. */
    public static final Set<String> EXTENSIONS = Set.of("jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff");

    private ImageFiles() {
    }

    /**
     * Files with an image extension under each of {@code roots} (recursively, symbolic links not followed),
     * plus any root that is itself a file; sorted by path; nothing under {@code exclude} (may be null).
     *
     * @throws IllegalArgumentException if a root does not exist
     */
    public static List<Path> list(List<Path> roots, Path exclude) {
        Path skip = exclude == null ? null : exclude.toAbsolutePath().normalize();
        List<Path> files = new ArrayList<>();
        for (Path root : roots) {
            if (!Files.exists(root)) throw new IllegalArgumentException("no such file or folder: " + root);
            if (Files.isRegularFile(root)) {
                files.add(root);
                continue;
            }
            try (Stream<Path> walk = Files.walk(root)) {
                walk.filter(Files::isRegularFile)
                        .filter(p -> skip == null || !p.toAbsolutePath().normalize().startsWith(skip))
                        .filter(ImageFiles::hasImageExtension)
                        .forEach(files::add);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
            }
        }
        files.sort(null);
        return files.stream().distinct().toList();
    }

    static boolean hasImageExtension(Path p) {
        String name = p.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 && EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }
}
