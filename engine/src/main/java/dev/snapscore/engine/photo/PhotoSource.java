package dev.snapscore.engine.photo;

import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * Where a photo comes from: a file, or encoded bytes (an upload, a Spark row's content, a remote file read
 * on demand). {@code name} is what rows and error messages call it.
 *
 * @param file    a file to read, or null
 * @param encoded when {@code file} is null, gives the encoded bytes; may throw
 *                {@link dev.snapscore.engine.ImageException} (the photo's error)
 */
public record PhotoSource(String name, Path file, Supplier<byte[]> encoded) {
    public PhotoSource {
        if (name == null) throw new IllegalArgumentException("a photo needs a name");
        if ((file == null) == (encoded == null)) throw new IllegalArgumentException("give either a file or encoded bytes");
    }

    public static PhotoSource of(Path file) {
        return new PhotoSource(file.toString(), file, null);
    }

    public static PhotoSource of(String name, byte[] encoded) {
        return new PhotoSource(name, null, () -> encoded);
    }

    /** Bytes fetched when the photo is prepared, on the thread that prepares it. */
    public static PhotoSource reading(String name, Supplier<byte[]> reader) {
        return new PhotoSource(name, null, reader);
    }
}
