package dev.snapscore.engine.format;

import dev.snapscore.engine.format.onnx.OnnxProtos.ModelProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.StringStringEntryProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

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

    /**
     * Only the engine's and its bindings' classes make the engine's identity, however they are packed: the bench's jar
     * with everything and the command line's jar per module key the same plan file, and a change in the verbs or the
     * bench keeps it; a change in either package is another engine. A folder of classes hashes as a jar of them does.
     */
    @Test
    void theEnginesIdentityIsItsOwnClassesAndItsBindingsOnlyHoweverPacked(@TempDir Path dir) throws Exception {
        Map<String, byte[]> engine = Map.of("dev/snapscore/engine/runtime/Winograd.class", new byte[] {1, 2, 3},
                "dev/snapscore/engine/format/onnx/OnnxProtos.class", new byte[] {4});
        Map<String, byte[]> bindings = Map.of("dev/snapscore/dnnl/Dnnl.class", new byte[] {5, 6});
        Map<String, byte[]> bench = Map.of("dev/snapscore/bench/LoadProbe.class", new byte[] {7}, "META-INF/MANIFEST.MF", new byte[] {8});
        Path memo = dir.resolve("memo");

        Path fat = jar(dir.resolve("bench.jar"), engine, bindings, bench);
        Path engineJar = jar(dir.resolve("snapscore-engine.jar"), engine, Map.of("dev/snapscore/engine/README.txt", new byte[] {9}));
        Path nativeJar = jar(dir.resolve("snapscore-native.jar"), bindings);
        String packedInOne = ContentHashes.engineCode(Map.of(ENGINE, fat, DNNL, fat), memo);
        assertEquals(packedInOne, ContentHashes.engineCode(Map.of(ENGINE, engineJar, DNNL, nativeJar), memo));
        assertEquals(packedInOne, ContentHashes.engineCode(Map.of(ENGINE, fat, DNNL, fat), memo), "again, from the memo");
        try (Stream<Path> memos = Files.list(memo)) {
            // the names PlanCachePruner knows (PlanCachePrunerTest removes old ones)
            assertEquals(Set.of("classes-engine", "classes-dnnl"), memos.map(m -> m.getFileName().toString().substring(9))
                    .collect(Collectors.toSet()));
        }
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(
                (DNNL + " " + classesHash(bindings) + "\n" + ENGINE + " " + classesHash(engine) + "\n").getBytes(StandardCharsets.UTF_8))),
                packedInOne);

        Path otherBench = jar(dir.resolve("bench2.jar"), engine, bindings, Map.of("dev/snapscore/bench/LoadProbe.class", new byte[] {10}));
        assertEquals(packedInOne, ContentHashes.engineCode(Map.of(ENGINE, otherBench, DNNL, otherBench), memo));
        Map<String, byte[]> changed = new HashMap<>(engine);
        changed.put("dev/snapscore/engine/runtime/Winograd.class", new byte[] {1, 2, 4});
        Path otherEngine = jar(dir.resolve("engine2.jar"), changed);
        assertNotEquals(packedInOne, ContentHashes.engineCode(Map.of(ENGINE, otherEngine, DNNL, nativeJar), memo));
        Path otherBindings = jar(dir.resolve("native2.jar"), bindings, Map.of("dev/snapscore/dnnl/Arg.class", new byte[] {11}));
        assertNotEquals(packedInOne, ContentHashes.engineCode(Map.of(ENGINE, engineJar, DNNL, otherBindings), memo));

        Path classes = dir.resolve("classes");
        for (var e : engine.entrySet()) {
            Path f = classes.resolve(e.getKey());
            Files.createDirectories(f.getParent());
            Files.write(f, e.getValue());
        }
        Files.createDirectories(classes.resolve("dev/snapscore/server"));
        Files.write(classes.resolve("dev/snapscore/server/Handler.class"), new byte[] {12});
        assertEquals(packedInOne, ContentHashes.engineCode(Map.of(ENGINE, classes, DNNL, nativeJar), memo));
    }

    private static final String ENGINE = "dev/snapscore/engine/", DNNL = "dev/snapscore/dnnl/";

    @SafeVarargs
    private static Path jar(Path file, Map<String, byte[]>... contents) throws IOException {
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(file))) {
            for (int i = contents.length - 1; i >= 0; i--) { // not in name order: the hash sorts
                for (var e : contents[i].entrySet()) {
                    zip.putNextEntry(new ZipEntry(e.getKey()));
                    zip.write(e.getValue());
                    zip.closeEntry();
                }
            }
        }
        return file;
    }

    /** SHA-256 of each class's name, a newline and its bytes, in name order, written out here. */
    private static String classesHash(Map<String, byte[]> classes) throws NoSuchAlgorithmException {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (String name : new TreeMap<>(classes).keySet()) {
            md.update((name + "\n").getBytes(StandardCharsets.UTF_8));
            md.update(classes.get(name));
        }
        return HexFormat.of().formatHex(md.digest());
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
