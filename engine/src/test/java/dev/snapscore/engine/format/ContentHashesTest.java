package dev.snapscore.engine.format;

import dev.snapscore.engine.format.onnx.OnnxProtos.ModelProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.StringStringEntryProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ContentHashesTest {
    private static final Path ONNX = SafetensorsTest.fixture("models/vgg-mini-nchw/model.onnx");

    @Test
    void anOnnxModelIsItsFileAndTheExternalDataItsWeightsCameFrom(@TempDir Path dir) throws Exception {
        Path embedded = Files.copy(ONNX, dir.resolve("embedded.onnx"));
        Path split = Files.createDirectories(dir.resolve("split"));
        Path onnx = split.resolve("model.onnx"), data = split.resolve("weights.bin");
        int moved = moveWeightsOut(ONNX, onnx, data);
        assertTrue(moved > 10, "the fixture's initializers hold raw data: " + moved + " moved");
        Path memo = dir.resolve("memo");

        try (LoadedModel inFile = ModelFormats.read(embedded); LoadedModel outside = ModelFormats.read(onnx)) {
            assertEquals(List.of(), inFile.dataFiles());
            assertEquals(List.of(data.toAbsolutePath().normalize()), outside.dataFiles());
            assertEquals("embedded.onnx=" + tree(embedded), ContentHashes.model(embedded, inFile, memo));
            String before = ContentHashes.model(onnx, outside, memo);
            assertEquals("model.onnx=" + tree(onnx) + " weights.bin=" + tree(data), before);
            assertEquals(before, ContentHashes.model(onnx, outside, memo), "again, from the memo");

            // Another weight, same size, same .onnx file: another model.
            byte[] bytes = Files.readAllBytes(data);
            bytes[bytes.length / 2] ^= 1;
            Files.write(data, bytes);
            String after = ContentHashes.model(onnx, outside, memo);
            assertNotEquals(before, after);
            assertEquals("model.onnx=" + tree(onnx) + " weights.bin=" + tree(data), after);
        }
    }

    /** Every piece counts, the last one short; a file of one piece or none is hashed the same way. */
    @Test
    void aFilesHashIsOfItsSizeAndItsPiecesHashes(@TempDir Path dir) throws Exception {
        Path weights = SafetensorsTest.fixture("models/vgg-mini-nchw/weights.safetensors");
        long mib = 1 << 20;
        assertTrue(Files.size(weights) > 4 * mib && Files.size(weights) % mib != 0);
        assertEquals(tree(weights, mib), ContentHashes.tree(weights, mib));
        Path copy = Files.copy(weights, dir.resolve("copy"));
        byte[] bytes = Files.readAllBytes(copy);
        bytes[bytes.length - 1] ^= 1; // in the short last piece
        Files.write(copy, bytes);
        assertNotEquals(ContentHashes.tree(weights, mib), ContentHashes.tree(copy, mib));
        Path empty = Files.createFile(dir.resolve("empty"));
        assertEquals(tree(empty, mib), ContentHashes.tree(empty, mib));
        assertNotEquals(ContentHashes.tree(weights, mib), ContentHashes.tree(weights, 2 * mib), "another piece size, another hash");
    }

    /** Writes {@code from} as {@code onnx} with every initializer's raw data moved into {@code data}, as torch.onnx does past 2 GB. */
    private static int moveWeightsOut(Path from, Path onnx, Path data) throws IOException {
        ModelProto.Builder model = ModelProto.parseFrom(Files.readAllBytes(from)).toBuilder();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int moved = 0;
        for (TensorProto.Builder t : model.getGraphBuilder().getInitializerBuilderList()) {
            if (t.getRawData().isEmpty()) continue;
            long offset = bytes.size();
            t.getRawData().writeTo(bytes);
            t.addExternalData(entry("location", data.getFileName().toString()))
                    .addExternalData(entry("offset", Long.toString(offset)))
                    .addExternalData(entry("length", Integer.toString(t.getRawData().size())))
                    .setDataLocation(TensorProto.DataLocation.EXTERNAL).clearRawData();
            moved++;
        }
        Files.write(data, bytes.toByteArray());
        Files.write(onnx, model.build().toByteArray());
        return moved;
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    private static String tree(Path file) throws IOException, NoSuchAlgorithmException {
        return tree(file, ContentHashes.CHUNK);
    }

    /** The tree hash written out here, one piece after another: SHA-256 of the size (8 bytes, big-endian) and each piece's SHA-256. */
    private static String tree(Path file, long chunk) throws IOException, NoSuchAlgorithmException {
        byte[] bytes = Files.readAllBytes(file);
        MessageDigest root = MessageDigest.getInstance("SHA-256");
        root.update(ByteBuffer.allocate(Long.BYTES).putLong(bytes.length).array());
        int at = 0;
        do {
            int n = (int) Math.min(chunk, bytes.length - at);
            root.update(MessageDigest.getInstance("SHA-256").digest(Arrays.copyOfRange(bytes, at, at + n)));
            at += n;
        } while (at < bytes.length);
        return HexFormat.of().formatHex(root.digest());
    }
}
