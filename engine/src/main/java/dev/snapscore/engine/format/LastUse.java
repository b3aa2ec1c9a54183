package dev.snapscore.engine.format;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;

/**
 * A cache file's last use, kept as its modification time (which a cache file, written once and renamed into place,
 * otherwise never changes), so that what has not been used for long can be found and removed.
 */
public final class LastUse {
    /** How stale a recorded use may get: a file used on every load is stamped at most once this often, not every time. */
    public static final Duration RESOLUTION = Duration.ofHours(1);

    private LastUse() {
    }

    /** Records that {@code file} was used now, unless it already says so to within {@link #RESOLUTION}. */
    public static void record(Path file) {
        try {
            Instant now = Instant.now();
            if (Files.getLastModifiedTime(file).toInstant().isAfter(now.minus(RESOLUTION))) return;
            Files.setLastModifiedTime(file, FileTime.from(now));
        } catch (IOException | RuntimeException e) {
            // a file this process cannot stamp (another user's, a read-only file system) only looks older than it is
        }
    }
}
