package dev.snapscore.training.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The original study's labelling rules on a posts table, and how bad rows are reported. */
class PostsCsvTest {
    @TempDir
    Path dir;

    private void images(String... names) throws IOException {
        for (String n : names) Files.write(dir.resolve(n), new byte[] {1}); // existence is all the CSV reader checks
    }

    private Path csv(String... lines) throws IOException {
        return Files.write(dir.resolve("posts.csv"), List.of(lines));
    }

    @Test
    void youngPostsAreDroppedAndLikesBucketedAsMinOfLikesAndNine() throws IOException {
        images("a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg");
        Path file = csv("file,likes,comments,age_seconds",
                "a.jpg,0,0,5000",
                "b.jpg,3,1,2000",    // exactly 2000 s: settled, kept
                "c.jpg,9,0,86400",
                "d.jpg,250,12,86400",
                "e.jpg,7,0,1999",    // one second too young
                "f.jpg,1,0,0");
        PostsCsv.Result r = PostsCsv.read(file, dir, PostsCsv.STUDY_MIN_AGE_SECONDS, Buckets.STUDY);
        assertEquals(6, r.rows());
        assertEquals(2, r.tooYoung());
        assertTrue(r.malformed().isEmpty() && r.missingFiles().isEmpty());
        assertEquals(List.of(dir.resolve("a.jpg"), dir.resolve("b.jpg"), dir.resolve("c.jpg"), dir.resolve("d.jpg")), r.data().files());
        assertArrayEquals(new int[] {0, 3, 9, 9}, r.data().labels());
        assertEquals(List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9+"), r.data().classNames());
        assertEquals(List.of(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0), r.data().values());
        assertEquals("posts: 6 rows; dropped 2 younger than 2000 s, 0 malformed, 0 with no image file; kept 4", r.summary(2000));
    }

    @Test
    void everyLikeCountGetsTheStudysClass() {
        for (long likes = 0; likes < 1000; likes++) assertEquals(Math.min(likes, 9), Buckets.STUDY.classOf(likes));
        assertEquals(9, Buckets.STUDY.classOf(Long.MAX_VALUE));
    }

    @Test
    void bucketEdgesAreConfigurable() throws IOException {
        Buckets b = new Buckets(new long[] {1, 10, 100});
        assertEquals(List.of("0", "1-9", "10-99", "100+"), b.labels());
        assertEquals(List.of(0.0, 1.0, 10.0, 100.0), b.values());
        assertArrayEquals(new int[] {0, 1, 1, 2, 2, 3}, java.util.stream.LongStream.of(0, 1, 9, 10, 99, 100).mapToInt(b::classOf).toArray());
        images("a.jpg", "b.jpg");
        PostsCsv.Result r = PostsCsv.read(csv("likes,age_seconds,file,comments,caption", "42,9999,a.jpg,3,hello", "5,9999,b.jpg,0,"),
                dir, 2000, b);
        assertArrayEquals(new int[] {2, 1}, r.data().labels());
        assertThrows(IllegalArgumentException.class, () -> new Buckets(new long[] {5, 5}));
        assertThrows(IllegalArgumentException.class, () -> new Buckets(new long[] {0, 5}));
    }

    @Test
    void malformedRowsAreReportedWithTheirLineNumbers() throws IOException {
        images("a.jpg", "b.jpg", "c.jpg");
        Path file = csv("file,likes,comments,age_seconds",
                "a.jpg,12,0,3000",
                "b.jpg,lots,0,3000",
                "b.jpg,3,0",
                "",
                "c.jpg,-1,0,3000",
                ",3,0,3000",
                "c.jpg,3,0,3.5e3",
                "gone.jpg,3,0,3000",
                "c.jpg,4,0,3000");
        PostsCsv.Result r = PostsCsv.read(file, dir, 2000, Buckets.STUDY);
        assertEquals(List.of(
                new PostsCsv.Problem(3, "likes 'lots' is not a whole number"),
                new PostsCsv.Problem(4, "3 fields, the header has 4"),
                new PostsCsv.Problem(6, "likes -1 is negative"),
                new PostsCsv.Problem(7, "empty file name"),
                new PostsCsv.Problem(8, "age_seconds '3.5e3' is not a whole number")), r.malformed());
        assertEquals(List.of(new PostsCsv.Problem(9, "no such image file " + dir.resolve("gone.jpg"))), r.missingFiles());
        assertArrayEquals(new int[] {9, 4}, r.data().labels());
        assertEquals(8, r.rows());
    }

    @Test
    void aMissingColumnOrAnEmptyFileIsAnErrorNamingIt() throws IOException {
        var e = assertThrows(IllegalArgumentException.class,
                () -> PostsCsv.read(csv("file,likes,age_seconds", "a.jpg,1,3000"), dir, 2000, Buckets.STUDY));
        assertTrue(e.getMessage().contains("missing column(s) [comments]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> PostsCsv.read(csv(), dir, 2000, Buckets.STUDY));
        assertTrue(e.getMessage().contains("is empty"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> PostsCsv.read(dir.resolve("none.csv"), dir, 2000, Buckets.STUDY));
        assertTrue(e.getMessage().contains("no such posts file"), e.getMessage());
        images("a.jpg");
        e = assertThrows(IllegalArgumentException.class,
                () -> PostsCsv.read(csv("file,likes,comments,age_seconds", "a.jpg,1,0,10"), dir, 2000, Buckets.STUDY));
        assertTrue(e.getMessage().contains("no usable posts") && e.getMessage().contains("dropped 1 younger than 2000 s"), e.getMessage());
    }
}
