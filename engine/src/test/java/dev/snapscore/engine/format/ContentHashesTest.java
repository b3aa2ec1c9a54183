package dev.snapscore.engine.format;

import dev.snapscore.engine.format.onnx.OnnxProtos.ModelProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.StringStringEntryProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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
            assertEquals("embedded.onnx=" + sha256(embedded), ContentHashes.model(embedded, inFile, memo));
            String before = ContentHashes.model(onnx, outside, memo);
            assertEquals("model.onnx=" + sha256(onnx) + " weights.bin=" + sha256(data), before);
            assertEquals(before, ContentHashes.model(onnx, outside, memo), "again, from the memo");

            // Another weight, same size, same .onnx file: another model.
            byte[] bytes = Files.readAllBytes(data);
            bytes[bytes.length / 2] ^= 1;
            Files.write(data, bytes);
            String after = ContentHashes.model(onnx, outside, memo);
            assertNotEquals(before, after);
            assertEquals("model.onnx=" + sha256(onnx) + " weights.bin=" + sha256(data), after);
        }
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

    private static String sha256(Path file) throws IOException, NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }
}
