package dev.snapscore.training.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A folder per class ({@code selfie/}, {@code notselfie/}): every image file below a class folder is one
 * photo of that class. Classes are the folder names in sorted order; when every name is a number, those
 * numbers are the classes' ordinal values (e.g. folders {@code 0}..{@code 9} of like buckets).
 */
public final class FolderDataset {
    /** What the engine's decoder reads; other files (notes, .DS_Store) are not photos. */
    static final Set<String> IMAGE_EXTENSIONS = Set.of("jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff");

    private FolderDataset() {
    }

    /** @throws IllegalArgumentException if the folder is missing, has under two classes, or a class has no images */
    public static Labelled read(Path root) {
        if (!Files.isDirectory(root)) throw new IllegalArgumentException("no such data folder: " + root);
        List<Path> classDirs;
        try (Stream<Path> s = Files.list(root)) {
            classDirs = s.filter(Files::isDirectory).filter(p -> !p.getFileName().toString().startsWith(".")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root, e);
        }
        if (classDirs.size() < 2) {
            throw new IllegalArgumentException(root + " needs a folder per class (at least two, e.g. selfie/ and notselfie/); it has "
                    + classDirs.size() + (classDirs.isEmpty() ? "" : ": " + classDirs.getFirst().getFileName()));
        }
        List<Path> files = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (Path dir : classDirs) {
            List<Path> images = images(dir);
            if (images.isEmpty()) {
                throw new IllegalArgumentException("class folder " + dir + " holds no images (" + String.join(", ", IMAGE_EXTENSIONS.stream().sorted().toList()) + ")");
            }
            for (Path image : images) {
                files.add(image);
                labels.add(names.size());
            }
            names.add(dir.getFileName().toString());
        }
        return new Labelled(files, labels.stream().mapToInt(Integer::intValue).toArray(), names, numericValues(names));
    }

    static boolean isImage(Path p) {
        String name = p.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 && IMAGE_EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    private static List<Path> images(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).filter(FolderDataset::isImage).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    private static List<Double> numericValues(List<String> names) {
        List<Double> values = new ArrayList<>();
        for (String n : names) {
            try {
                values.add(Double.parseDouble(n));
            } catch (NumberFormatException e) {
                return null;
            }
        }
        return values;
    }
}
