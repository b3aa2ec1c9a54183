package dev.snapscore.spark;

import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.image.ImageDecoder;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FSDataInputStream;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * Reads a photo's bytes on the executor. Local paths (no scheme, or {@code file:}) are read exactly as
 * {@code snapscore score} reads them, so rows and error messages match; other URIs (hdfs:, s3a:, ...) go
 * through Hadoop's FileSystem. Either way a file that cannot be read is an {@link ImageException} (an error
 * row), never a failed task, and files over the size limit are refused before they are read.
 */
final class ImageSource {
    private static final Pattern SCHEME = Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]*:");

    private ImageSource() {
    }

    /** The name rows use: a local path for local files (Spark lists them as {@code file:/...}), else the URI. */
    static String displayName(String path) {
        if (path.startsWith("file:")) return new org.apache.hadoop.fs.Path(path).toUri().getPath();
        return path;
    }

    static boolean isLocal(String path) {
        return path.startsWith("/") || path.startsWith("file:") || !SCHEME.matcher(path).find();
    }

    static byte[] read(String path, ImageDecoder decoder) {
        String name = displayName(path);
        if (isLocal(path)) return decoder.readBytes(Path.of(name));
        org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(path);
        try {
            FileSystem fs = file.getFileSystem(new Configuration());
            FileStatus status = fs.getFileStatus(file);
            if (status.isDirectory()) throw new ImageException(name + ": is a directory, not an image");
            long size = status.getLen();
            if (size == 0) throw new ImageException(name + ": empty file");
            if (size > decoder.maxBytes()) {
                throw new ImageException(name + ": " + size + " bytes exceeds the limit of " + decoder.maxBytes() + " bytes");
            }
            byte[] bytes = new byte[(int) size];
            try (FSDataInputStream in = fs.open(file)) {
                in.readFully(0, bytes);
            }
            return bytes;
        } catch (FileNotFoundException e) {
            throw new ImageException(name + ": no such file");
        } catch (IOException e) {
            throw new ImageException(name + ": cannot read: " + e.getMessage(), e);
        }
    }
}
