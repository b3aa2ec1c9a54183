package dev.snapscore.training.data;

import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A posts table ({@code file, likes, comments, age_seconds}, a header row, any column order, extra columns
 * ignored) labelled by the original study's rules: posts younger than {@code minAgeSeconds} are dropped
 * (their counts have not settled), and likes are bucketed ({@link Buckets#STUDY}: min(likes, 9)). Files are
 * relative to {@code imageRoot}. Every dropped row is counted by rule; malformed rows are kept with their
 * line number and reason, never skipped silently.
 */
public final class PostsCsv {
    public static final List<String> COLUMNS = List.of("file", "likes", "comments", "age_seconds");
    public static final long STUDY_MIN_AGE_SECONDS = 2000;

    private PostsCsv() {
    }

    /** A row that could not be used: its line in the file (1 = the header) and why. */
    public record Problem(long line, String reason) {
        @Override
        public String toString() {
            return "line " + line + ": " + reason;
        }
    }

    /** The kept posts and what each rule dropped. */
    public record Result(Labelled data, int rows, int tooYoung, List<Problem> malformed, List<Problem> missingFiles) {
        public String summary(long minAgeSeconds) {
            return String.format("posts: %d rows; dropped %d younger than %d s, %d malformed, %d with no image file; kept %d",
                    rows, tooYoung, minAgeSeconds, malformed.size(), missingFiles.size(), data.size());
        }
    }

    /**
     * @throws IllegalArgumentException if the file is missing or empty, lacks a column, or no post is left
     */
    public static Result read(Path csv, Path imageRoot, long minAgeSeconds, Buckets buckets) {
        if (!Files.isRegularFile(csv)) throw new IllegalArgumentException("no such posts file: " + csv);
        CSVFormat format = CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).setTrim(true)
                .setIgnoreEmptyLines(true).build();
        List<Path> files = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        List<Problem> malformed = new ArrayList<>(), missing = new ArrayList<>();
        int rows = 0, tooYoung = 0;
        try (Reader in = Files.newBufferedReader(csv, StandardCharsets.UTF_8); CSVParser parser = CSVParser.parse(in, format)) {
            Map<String, Integer> header = parser.getHeaderMap();
            if (header == null || header.isEmpty()) throw new IllegalArgumentException(csv + " is empty; expected a header row " + String.join(",", COLUMNS));
            List<String> absent = COLUMNS.stream().filter(c -> !header.containsKey(c)).toList();
            if (!absent.isEmpty()) {
                throw new IllegalArgumentException(csv + ": missing column(s) " + absent + "; the header has " + header.keySet()
                        + ", expected " + COLUMNS);
            }
            for (CSVRecord r : parser) {
                rows++;
                long line = r.getParser().getCurrentLineNumber();
                if (!r.isConsistent()) {
                    malformed.add(new Problem(line, r.size() + " fields, the header has " + header.size()));
                    continue;
                }
                String file = r.get("file");
                if (file.isEmpty()) {
                    malformed.add(new Problem(line, "empty file name"));
                    continue;
                }
                long likes, age;
                try {
                    likes = count(r, "likes");
                    count(r, "comments"); // checked like the others; the study's label uses likes only
                    age = count(r, "age_seconds");
                } catch (IllegalArgumentException e) {
                    malformed.add(new Problem(line, e.getMessage()));
                    continue;
                }
                if (age < minAgeSeconds) {
                    tooYoung++;
                    continue;
                }
                Path image = imageRoot.resolve(file);
                if (!Files.isRegularFile(image)) {
                    missing.add(new Problem(line, "no such image file " + image));
                    continue;
                }
                files.add(image);
                labels.add(buckets.classOf(likes));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + csv, e);
        } catch (UncheckedIOException e) {
            // commons-csv reports a broken quote this way, naming the line
            throw new IllegalArgumentException(csv + ": " + e.getCause().getMessage(), e);
        }
        Labelled data = new Labelled(files, labels.stream().mapToInt(Integer::intValue).toArray(), buckets.labels(), buckets.values());
        Result result = new Result(data, rows, tooYoung, List.copyOf(malformed), List.copyOf(missing));
        if (data.size() == 0) throw new IllegalArgumentException(csv + ": no usable posts (" + result.summary(minAgeSeconds) + ")");
        return result;
    }

    private static long count(CSVRecord r, String column) {
        String v = r.get(column);
        long n;
        try {
            n = Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(column + " '" + v + "' is not a whole number");
        }
        if (n < 0) throw new IllegalArgumentException(column + " " + n + " is negative");
        return n;
    }
}
