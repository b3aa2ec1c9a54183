package dev.snapscore.engine.format;

import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.spec.ElementType;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsTest {

    static Path fixture(String relative) {
        try {
            return Path.of(SafetensorsTest.class.getResource("/fixtures/" + relative).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Tensor values are read at the offsets the header gives; checked here with Jackson and plain NIO. */
    @Test
    void readsTheFixtureWeightsAsViewsOfTheFile() throws IOException {
        Path file = fixture("models/vgg-mini-nchw/weights.safetensors");
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = (int) bytes.getLong(0);
        var header = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(new String(bytes.array(), 8, headerLength, StandardCharsets.UTF_8));
        try (Weights w = Safetensors.read(file)) {
            assertEquals(header.size(), w.names().size());
            for (String name : List.of("features.0.weight", "features.28.bias", "classifier.0.weight", "classifier.12.bias")) {
                Tensor t = w.tensors().get(name);
                var entry = header.get(name);
                assertEquals(entry.get("shape").toString(), java.util.Arrays.toString(t.shape()).replace(" ", ""));
                int begin = 8 + headerLength + entry.get("data_offsets").get(0).asInt();
                for (int i = 0; i < 5 && i < t.elements(); i++) {
                    assertEquals(bytes.getFloat(begin + 4 * i), t.data().getAtIndex(JAVA_FLOAT_UNALIGNED, i), name + "[" + i + "]");
                }
                assertTrue(t.data().isMapped() || t.data().isNative(), "a view of the mapping, not a heap copy");
            }
            assertEquals(8 * 3 * 3 * 3, w.get("features.0.weight", 8, 3, 3, 3).elements());
            assertEquals(256L * 64 * 7 * 7, w.get("classifier.0.weight", 256, 64 * 7 * 7).elements());
        }
    }

    @Test
    void writeThenReadRoundTripsWithAlignedData(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("w.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            var a = new Tensor("a", new long[] {2, 3}, arena.allocateFrom(JAVA_FLOAT, 1, 2, 3, 4, 5, 6));
            var b = new Tensor("b.bias", new long[] {1}, arena.allocateFrom(JAVA_FLOAT, -7.5f));
            var q = new Tensor("q", new long[] {3}, ElementType.S8, arena.allocateFrom(JAVA_BYTE, (byte) -128, (byte) 0, (byte) 127));
            Safetensors.write(file, List.of(a, b, q));
        }
        long headerLength = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + headerLength) % 8, "data section starts 8-byte aligned");
        try (Weights w = Safetensors.read(file)) {
            assertEquals(List.of("a", "b.bias", "q"), List.copyOf(w.names()));
            assertEquals(ElementType.S8, w.tensors().get("q").type());
            assertArrayEquals(new byte[] {-128, 0, 127}, w.get("q", 3).data().toArray(JAVA_BYTE));
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, w.get("a", 2, 3).data().toArray(JAVA_FLOAT_UNALIGNED));
            assertArrayEquals(new float[] {-7.5f}, w.get("b.bias", 1).data().toArray(JAVA_FLOAT_UNALIGNED));
        }
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
    }

    @Test
    void missingEmptyAndDirectoryPaths(@TempDir Path dir) throws IOException {
        assertFails(dir.resolve("none.safetensors"), "no such file");
        assertFails(Files.write(dir.resolve("empty.safetensors"), new byte[0]), "too short");
        assertFails(dir, "is a directory");
    }

    @Test
    void truncatedFileIsRefused(@TempDir Path dir) throws IOException {
        byte[] good = Files.readAllBytes(fixture("models/vgg-mini-nhwc/weights.safetensors"));
        Path cut = Files.write(dir.resolve("cut.safetensors"), java.util.Arrays.copyOf(good, good.length - 100));
        assertFails(cut, "run past the end");
        Path headerOnly = Files.write(dir.resolve("head.safetensors"), java.util.Arrays.copyOf(good, 50));
        assertFails(headerOnly, "header length");
    }

    @Test
    void lyingHeadersAreRefused(@TempDir Path dir) throws IOException {
        assertFails(file(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8), "run past the end");
        assertFails(file(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 16), "overlap");
        assertFails(file(dir, "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4), "dtype F16; snapscore reads F32, BF16 and I8");
        assertFails(file(dir, "{\"a\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[0,12]}}", 12), "of I8 needs 3 bytes");
        assertFails(file(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "needs 12 bytes");
        assertFails(file(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "invalid dimension");
        assertFails(file(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8), "not a valid range");
        assertFails(file(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), "needs dtype, shape and data_offsets");
        assertFails(file(dir, "not json at all", 8), "not valid JSON");
        assertFails(file(dir, "[1,2]", 8), "not a JSON object");
        byte[] absurd = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE).array();
        assertFails(Files.write(dir.resolve("absurd.safetensors"), absurd), "header length");
    }

    private static Path file(Path dir, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return Files.write(Files.createTempFile(dir, "bad", ".safetensors"), b.array());
    }

    private static void assertFails(Path file, String expected) {
        var e = assertThrows(ModelFormatException.class, () -> Safetensors.read(file).close());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }
}
