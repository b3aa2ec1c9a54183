package dev.snapscore.report;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.photo.ScoreRow;
import dev.snapscore.engine.photo.ScoredPhoto;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A scores file as a contact sheet: {@code PAGE.html} and, beside it, {@code PAGE_files/} with the thumbnails. The
 * page works from the folder alone (no server, nothing fetched from the network); it links each photo where it
 * lies, so keep the photos where they were scored.
 * <p>
 * Photo paths in the scores are taken as written: absolute, or relative to the current folder (where {@code score}
 * ran), else to the scores file's folder.
 */
public final class Report {
    /**
     * What was written.
     *
     * @param unreadable photos (scored or rejected) without a thumbnail: missing, changed into a non-image, ...
     */
    public record Summary(Path page, int rows, int ok, int rejected, int errors, int made, int reused, int unreadable) {
    }

    private Report() {
    }

    /** The thumbnails' folder of a page: {@code gallery.html} → {@code gallery_files}. */
    public static Path filesFolder(Path page) {
        String name = page.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return page.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + "_files");
    }

    public static Summary write(Path scoresFile, Path page, int threads, Thumbnails.Progress progress) throws IOException {
        if (!page.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".html")) {
            throw new IllegalArgumentException("the page must end in .html, got " + page);
        }
        ScoresFile scores = ScoresFile.read(scoresFile);
        Path out = page.toAbsolutePath().normalize();
        Files.createDirectories(out.getParent());
        Path folder = filesFolder(out);

        Map<ScoresFile.Row, Path> photos = new LinkedHashMap<>();
        Map<ScoresFile.Row, String> badPaths = new LinkedHashMap<>();
        for (ScoresFile.Row r : scores.rows()) {
            if (r.status() == ScoredPhoto.Status.ERROR) continue;
            try {
                photos.put(r, locate(r.file(), scoresFile));
            } catch (IllegalArgumentException e) { // InvalidPathException, or a URI that is no file
                badPaths.put(r, r.file() + ": not a path on this machine");
            }
        }
        Thumbnails.Result thumbs = Thumbnails.update(folder, List.copyOf(photos.values()), ImageDecoder.withDefaults(), threads, progress);

        String common = commonFolder(scores.rows().stream().map(ScoresFile.Row::file).toList());
        ObjectNode data = JsonNodeFactory.instance.objectNode();
        data.put("source", scoresFile.getFileName().toString());
        data.put("generated", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        data.put("folder", common);
        ArrayNode labels = data.putArray("labels");
        scores.labels().forEach(labels::add);
        ArrayNode rows = data.putArray("rows");
        int ok = 0, rejected = 0, errors = 0, unreadable = 0;
        for (ScoresFile.Row r : scores.rows()) {
            switch (r.status()) {
                case OK -> ok++;
                case REJECTED -> rejected++;
                case ERROR -> errors++;
            }
            ObjectNode n = values(rows.addObject(), r, common);
            if (r.status() == ScoredPhoto.Status.ERROR) continue;
            Path photo = photos.get(r);
            if (photo == null) {
                n.put("why", badPaths.get(r));
                unreadable++;
                continue;
            }
            n.put("href", url(out.getParent().relativize(photo)));
            Thumbnails.Thumbnail t = thumbs.thumbnails().get(photo);
            if (t == null) {
                n.put("why", thumbs.problems().get(photo));
                unreadable++;
                continue;
            }
            n.put("thumb", url(out.getParent().relativize(folder.resolve(t.name()))));
            n.put("tw", t.width()).put("th", t.height());
            int[] box = r.faceBox();
            if (box != null) {
                // The box is in the photo's upright pixels; as fractions of it, it fits the thumbnail and the photo alike.
                ArrayNode b = n.putArray("box");
                b.add(fraction(box[0], t.photoWidth())).add(fraction(box[1], t.photoHeight()))
                        .add(fraction(box[2], t.photoWidth())).add(fraction(box[3], t.photoHeight()));
            }
        }
        data.putObject("counts").put("ok", ok).put("rejected", rejected).put("error", errors).put("unreadable", unreadable);

        Path tmp = Thumbnails.temporary(out);
        try {
            Files.writeString(tmp, GalleryPage.render("snapscore: " + scoresFile.getFileName(), data), StandardCharsets.UTF_8);
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return new Summary(out, scores.rows().size(), ok, rejected, errors, thumbs.made(), thumbs.reused(), unreadable);
    }

    /** The row's values for the page, under short keys (10,000 rows make a page of a few MB). */
    private static ObjectNode values(ObjectNode n, ScoresFile.Row r, String commonFolder) {
        n.put("name", r.file().substring(commonFolder.length()));
        n.put("path", r.file());
        n.put("line", r.line());
        n.put("status", ScoreRow.status(r.status()));
        if (r.label() != null) n.put("label", r.label());
        if (r.probability() != null) n.put("p", r.probability());
        if (r.probabilities() != null) {
            ArrayNode ps = n.putArray("ps");
            for (float p : r.probabilities()) ps.add(p);
        }
        if (r.expectedScore() != null) n.put("score", r.expectedScore());
        if (r.faceFraction() != null) n.put("ff", r.faceFraction());
        if (r.error() != null) n.put("error", r.error());
        return n;
    }

    /** A photo's file as the scores name it: absolute; else relative to here, else to the scores file's folder. */
    static Path locate(String file, Path scoresFile) {
        Path p = file.startsWith("file:") ? Path.of(URI.create(file)) : Path.of(file);
        if (!p.isAbsolute() && !Files.exists(p)) {
            Path beside = scoresFile.toAbsolutePath().resolveSibling(p);
            if (Files.exists(beside)) p = beside;
        }
        return p.toAbsolutePath().normalize();
    }

    /** A relative URL for a relative path: each segment percent-encoded as needed, never read as a scheme. */
    static String url(Path relative) {
        String path = relative.toString().replace(File.separatorChar, '/');
        try {
            String encoded = new URI(null, null, path, null).getRawPath(); // quotes %, ?, #, spaces
            return path.startsWith("../") ? encoded : "./" + encoded;
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException(relative + ": cannot be written as a URL", e);
        }
    }

    /** The longest folder prefix ("a/b/") the files share, so the page can show shorter names. */
    static String commonFolder(List<String> files) {
        if (files.isEmpty()) return "";
        List<String> common = null;
        for (String f : files) {
            List<String> parts = Arrays.asList(f.split("/", -1));
            List<String> folders = parts.subList(0, parts.size() - 1);
            if (common == null) common = new ArrayList<>(folders);
            int n = 0;
            while (n < common.size() && n < folders.size() && common.get(n).equals(folders.get(n))) n++;
            common = new ArrayList<>(common.subList(0, n));
        }
        return common.isEmpty() ? "" : String.join("/", common) + "/";
    }

    private static double fraction(int pixels, int of) {
        return Math.round(1e5 * pixels / of) / 1e5;
    }
}
