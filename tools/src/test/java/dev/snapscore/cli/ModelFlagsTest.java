package dev.snapscore.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine.TypeConversionException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static dev.snapscore.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code --cache-limit}: sizes in binary units, clear errors for anything else, and the limit reaches the plan cache. */
class ModelFlagsTest {
    private static final Path BUNDLED = Path.of("..", "models", "vgg-mini");
    private final ModelFlags.Size size = new ModelFlags.Size();

    @Test
    void sizesAreBytesOrBinaryUnits() {
        assertEquals(1048576L, size.convert("1048576"));
        assertEquals(500L * 1024 * 1024, size.convert("500M"));
        assertEquals(500L * 1024 * 1024, size.convert("500MiB"));
        assertEquals(500L * 1024 * 1024, size.convert("500mb"));
        assertEquals(4L * 1024 * 1024 * 1024, size.convert("4G"));
        assertEquals(2L << 40, size.convert("2T"));
        assertEquals(512L, size.convert("512B"));
        assertEquals("'0G': the limit must be more than 0 bytes", assertThrows(TypeConversionException.class, () -> size.convert("0G")).getMessage());
        assertEquals("'9000000T' is too large", assertThrows(TypeConversionException.class, () -> size.convert("9000000T")).getMessage());
    }

    @Test
    void aBadLimitIsAUsageErrorThatSaysWhatASizeIs() {
        for (String bad : new String[] {"lots", "-1G", "4X", "1.5G", "G", "4 GB!", "0"}) {
            CliRun r = run("verify", "--model", BUNDLED.toString(), "--reference", BUNDLED.resolve("io.safetensors").toString(), "--cache-limit", bad);
            assertEquals(2, r.code(), bad);
            assertTrue(r.err().contains("Invalid value for option '--cache-limit': '" + bad + "'"), r.err());
            if (!bad.equals("0")) assertTrue(r.err().contains("is not a size: give bytes or a whole number of K, M, G or T, e.g. 500M or 4G"), r.err());
        }
    }

    /** The default keeps an older plan file beside the one verify writes; --cache-limit 1K removes it when verify writes. */
    @Test
    void theLimitReachesThePlanCache(@TempDir Path cache) throws Exception {
        Path older = Files.write(Files.createDirectories(cache).resolve("0000abcd-avx2-f32-direct.plan"), new byte[4096]);
        Files.setLastModifiedTime(older, FileTime.from(Instant.now().minus(Duration.ofDays(1))));
        String[] verify = {"verify", "--model", BUNDLED.toString(), "--reference", BUNDLED.resolve("io.safetensors").toString(),
                "--convolution", "direct", "--cache-dir", cache.toString()};
        CliRun roomy = run(verify);
        assertEquals(0, roomy.code(), roomy.out() + roomy.err());
        assertTrue(Files.exists(older), "4 GiB by default");
        List<Path> written;
        try (var files = Files.list(cache)) {
            written = files.filter(f -> f.toString().endsWith(".plan") && !f.equals(older)).toList();
        }
        assertEquals(1, written.size(), written.toString());
        Files.delete(written.getFirst()); // so that the next run writes it again

        CliRun tight = run(concat(verify, "--cache-limit", "1K"));
        assertEquals(0, tight.code(), tight.out() + tight.err());
        assertFalse(Files.exists(older), "over the limit");
        assertTrue(Files.exists(written.getFirst()), "the file just written stays, though over the limit itself");
    }

    private static String[] concat(String[] a, String... b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
