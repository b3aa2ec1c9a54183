package dev.snapscore.engine.runtime;

import dev.snapscore.engine.format.ContentHashes;
import dev.snapscore.engine.format.LastUse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Keeps a plan cache folder from growing without bound; run after a plan file is written there (reads never delete).
 * Removes plan files and hash memos unused ({@link LastUse}) for {@link #UNUSED}, then the least recently used plan
 * files while the rest exceed the size limit, and temporary files a killed writer left. Never the file just written.
 * Removing a file another process has mapped is safe: on Linux its mapping keeps the data until unmapped.
 * Each removal, and each failure, is one line on stderr; nothing here fails a load.
 */
final class PlanCachePruner {
    static final Duration UNUSED = Duration.ofDays(30);
    /** A temporary file this old is a killed writer's: a VGG16 plan is written in seconds. */
    static final Duration ABANDONED = Duration.ofHours(1);
    /** {@link PlanCache.Key#fileName()}'s names only: a --cache-dir may hold other files. */
    private static final Pattern PLAN = Pattern.compile("[0-9a-f]{8}-\\w+-[a-z0-9]+-[a-z0-9]+\\.plan");
    /** {@code AtomicFiles}' temporary names: "." + the file's name + a random number + ".part". */
    private static final Pattern PART = Pattern.compile("\\.[0-9a-f]{8}[-.][\\w.-]*[0-9]\\.part");

    private record Entry(Path file, long bytes, Instant used) {
    }

    private PlanCachePruner() {
    }

    /** Prunes the folder of {@code written} (a plan file just written) and its {@code memoDir} to {@code limit} bytes of plans. */
    static void prune(Path written, Path memoDir, long limit) {
        Instant now = Instant.now();
        List<Entry> plans = new ArrayList<>();
        for (Entry e : list(written.getParent())) {
            String name = e.file().getFileName().toString();
            if (PLAN.matcher(name).matches()) {
                if (isWritten(e, written) || !removeIfUnused(e, now)) plans.add(e);
            } else if (PART.matcher(name).matches()) {
                removeIfAbandoned(e, now);
            }
        }
        long total = plans.stream().mapToLong(Entry::bytes).sum();
        plans.sort(Comparator.comparing(Entry::used).thenComparing(Entry::file));
        for (Entry e : plans) {
            if (total <= limit) break;
            if (!isWritten(e, written) && remove(e.file(), "over the " + size(limit) + " limit")) total -= e.bytes();
        }
        if (!Files.isDirectory(memoDir)) return;
        for (Entry e : list(memoDir)) {
            String name = e.file().getFileName().toString();
            if (ContentHashes.MEMO_NAME.matcher(name).matches()) removeIfUnused(e, now);
            else if (PART.matcher(name).matches()) removeIfAbandoned(e, now);
        }
    }

    private static boolean isWritten(Entry e, Path written) {
        return e.file().getFileName().equals(written.getFileName());
    }

    private static boolean removeIfUnused(Entry e, Instant now) {
        Duration age = Duration.between(e.used(), now);
        return age.compareTo(UNUSED) > 0 && remove(e.file(), "unused for " + age.toDays() + " days");
    }

    private static void removeIfAbandoned(Entry e, Instant now) {
        Duration age = Duration.between(e.used(), now);
        if (age.compareTo(ABANDONED) > 0) remove(e.file(), "an unfinished write, " + age.toHours() + " hours old");
    }

    /** The regular files in {@code dir} with their sizes and last uses; none, with one line on stderr, if it cannot be read. */
    private static List<Entry> list(Path dir) {
        List<Entry> entries = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                try {
                    BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
                    if (a.isRegularFile()) entries.add(new Entry(f, a.size(), a.lastModifiedTime().toInstant()));
                } catch (NoSuchFileException e) {
                    // removed meanwhile (another process pruning, or a rename)
                }
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("snapscore: plan cache: could not prune " + dir + " (" + e + ")");
        }
        return entries;
    }

    /** Whether {@code file} is gone now: removed (reported on stderr) or already removed by another process. */
    private static boolean remove(Path file, String why) {
        try {
            Files.delete(file);
            System.err.println("snapscore: plan cache: removed " + file + " (" + why + ")");
            return true;
        } catch (NoSuchFileException e) {
            return true;
        } catch (IOException | RuntimeException e) {
            System.err.println("snapscore: plan cache: could not remove " + file + " (" + why + "): " + e);
            return false;
        }
    }

    /** {@code bytes} in the largest binary unit that leaves at least 1, e.g. "4 GiB", "1.5 GiB", "500 MiB". */
    static String size(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return (v == Math.rint(v) ? String.valueOf((long) v) : String.format(java.util.Locale.ROOT, "%.1f", v)) + " " + units[u];
    }
}
