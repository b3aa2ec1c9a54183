package dev.snapscore.engine.format;

import dev.snapscore.dnnl.Dnnl;

import java.io.File;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Identities of what a compiled plan depends on: a model's content and the engine's own code. A file's
 * hash is computed once and remembered in a memo folder under its real path, size, modification and change
 * times and inode, so a later load only reads its attributes (hashing VGG16's 275 MB of weights takes 0.3 s with
 * C2 and 2.1-2.4 s in the command line's C1-only JVM, on two cores; looking it up, well under a millisecond). A
 * memo's modification time is its last use ({@link LastUse}).
 */
public final class ContentHashes {
    private ContentHashes() {
    }

    /**
     * The identity of the model read from {@code path} as {@code loaded}: for a snapscore model directory, its
     * spec.json and every safetensors file in it; for an ONNX file, the file and the external data files its weights
     * were read from. Each file is read only on first sight; what the import makes of them is the engine code's part
     * of the key ({@link #engineCode}).
     */
    public static String model(Path path, LoadedModel loaded, Path memoDir) throws IOException {
        List<Path> files;
        if (Files.isDirectory(path) || path.getFileName().toString().equals(ModelDirectory.SPEC_FILE)) {
            Path dir = Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
            try (Stream<Path> list = Files.list(dir)) {
                files = list.filter(f -> Files.isRegularFile(f) && (f.getFileName().toString().equals(ModelDirectory.SPEC_FILE)
                        || f.getFileName().toString().endsWith(".safetensors"))).sorted().toList();
            }
        } else {
            // Hashing the imported tensors instead took every load 0.3 s for VGG16 (4-5 s in the command line's C1-only JVM, where SHA-256 has no intrinsic).
            files = Stream.concat(Stream.of(path), loaded.dataFiles().stream()).toList();
        }
        // The files' own hashes side by side: nothing more to hash on a load that finds them in the memo.
        StringBuilder id = new StringBuilder();
        for (Path f : files) id.append(f.getFileName()).append('=').append(file(f, memoDir)).append(' ');
        return id.toString().trim();
    }

    /**
     * The packages whose code decides what prepared weights hold (layouts asked for, Winograd's transforms,
     * quantisation), each with a class of it: the engine and its oneDNN bindings. The verbs, the server, the bench and
     * Spark around them do not count, so a change there keeps the plan files.
     */
    private static final Map<String, Class<?>> ENGINE_PACKAGES = Map.of("dev/snapscore/engine/", ContentHashes.class,
            "dev/snapscore/dnnl/", Dnnl.class);

    /**
     * The identity of the engine's code: per package of {@link #ENGINE_PACKAGES}, the hash of its classes in the jar or
     * classes folder it was loaded from (a jar's memoised like a model file). Per package, so it is the same whether
     * the two come in one jar with everything (the bench's) or in a jar each (the command line's, Spark's).
     */
    public static String engineCode(Path memoDir) throws IOException {
        Map<String, Path> sources = new HashMap<>();
        for (var e : ENGINE_PACKAGES.entrySet()) {
            try {
                sources.put(e.getKey(), Path.of(e.getValue().getProtectionDomain().getCodeSource().getLocation().toURI()));
            } catch (java.net.URISyntaxException | RuntimeException ex) {
                throw new IOException("cannot find the engine's code (" + e.getValue().getName() + "): " + ex.getMessage(), ex);
            }
        }
        return engineCode(sources, memoDir);
    }

    /** {@link #engineCode(Path)} of the packages in these places (jars or classes folders). */
    static String engineCode(Map<String, Path> sourceOfPackage, Path memoDir) throws IOException {
        MessageDigest md = sha256();
        for (var e : new TreeMap<>(sourceOfPackage).entrySet()) {
            String pkg = e.getKey();
            Path source = e.getValue();
            String kind = "classes-" + Path.of(pkg).getFileName(); // classes-engine, classes-dnnl
            String hash = Files.isRegularFile(source) ? memoised(source, memoDir, kind, jar -> classesInJar(jar, pkg))
                    : classesInFolder(source, pkg);
            update(md, pkg + " " + hash + "\n");
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** SHA-256 of the classes of {@code pkg} in {@code jar}: {@link #namesAndBytes} of them. */
    static String classesInJar(Path jar, String pkg) throws IOException {
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            SortedMap<String, ZipEntry> classes = new TreeMap<>();
            zip.stream().filter(e -> e.getName().startsWith(pkg) && e.getName().endsWith(".class"))
                    .forEach(e -> classes.put(e.getName(), e));
            return namesAndBytes(classes, e -> {
                try (var in = zip.getInputStream(e)) {
                    return in.readAllBytes();
                }
            });
        }
    }

    /** The same of a classes folder, each class under the name a jar would give it: equal to a jar's of the same classes. */
    static String classesInFolder(Path folder, String pkg) throws IOException {
        SortedMap<String, Path> classes = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(folder)) {
            walk.filter(Files::isRegularFile).forEach(f -> {
                String name = folder.relativize(f).toString().replace(File.separatorChar, '/');
                if (name.startsWith(pkg) && name.endsWith(".class")) classes.put(name, f);
            });
        }
        return namesAndBytes(classes, Files::readAllBytes);
    }

    private interface Contents<T> {
        byte[] read(T source) throws IOException;
    }

    /** SHA-256 of each class's name, a newline and its bytes, in name order: one definition for jars and folders. */
    private static <T> String namesAndBytes(SortedMap<String, T> classes, Contents<T> contents) throws IOException {
        MessageDigest md = sha256();
        for (var e : classes.entrySet()) {
            update(md, e.getKey() + "\n");
            md.update(contents.read(e.getValue()));
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** {@code file}'s {@link #tree} hash, from the memo when the file's attributes are those it was hashed with. */
    static String file(Path file, Path memoDir) throws IOException {
        return memoised(file, memoDir, "sha256", real -> tree(real, CHUNK));
    }

    private interface Hasher {
        String hash(Path file) throws IOException;
    }

    /**
     * The names of the memos this writes, for whoever prunes the folder: a file's hash ({@code .sha256}), the engine's
     * classes per package ({@code .classes-engine}, {@code .classes-dnnl}), or all of them, as builds before that wrote
     * ({@code .classes}).
     */
    public static final Pattern MEMO_NAME = Pattern.compile("[0-9a-f]{8}\\.(sha256|classes(-[a-z]+)?)");

    /** {@code hasher}'s hash of {@code file}, from the memo (of that {@code kind}) when the file's attributes are those it was hashed with. */
    private static String memoised(Path file, Path memoDir, String kind, Hasher hasher) throws IOException {
        Path real = file.toRealPath();
        Map<String, Object> a = Files.readAttributes(real, "unix:size,lastModifiedTime,ctime,ino,dev");
        String stamp = a.get("size") + " " + a.get("lastModifiedTime") + " " + a.get("ctime") + " " + a.get("ino") + " " + a.get("dev");
        // Named by a checksum of the path, which the memo repeats: paths that share a name only cost a rehash.
        java.util.zip.CRC32C name = new java.util.zip.CRC32C();
        name.update(real.toString().getBytes(StandardCharsets.UTF_8));
        Path memo = memoDir.resolve(String.format("%08x.%s", (int) name.getValue(), kind));
        try {
            List<String> lines = Files.readAllLines(memo);
            if (lines.size() == 3 && lines.get(0).equals(real.toString()) && lines.get(1).equals(stamp)
                    && lines.get(2).matches("[0-9a-f]{64}")) {
                LastUse.record(memo); // memos unused for a month are pruned with the plan files
                return lines.get(2);
            }
        } catch (IOException | RuntimeException e) {
            // no memo, or an unreadable one: hash the file
        }
        String hash = hasher.hash(real);
        // Stamped before hashing would race a writer; a file changed while hashed gets a new stamp, so a later load rehashes it.
        Map<String, Object> after = Files.readAttributes(real, "unix:size,lastModifiedTime,ctime,ino,dev");
        if (after.equals(a)) {
            try {
                Files.createDirectories(memoDir);
                AtomicFiles.write(memo, ch -> ch.write(ByteBuffer.wrap(
                        (real + "\n" + stamp + "\n" + hash + "\n").getBytes(StandardCharsets.UTF_8))));
            } catch (IOException e) {
                // an unwritable memo only costs the next load this hash again
            }
        }
        return hash;
    }

    /** Files from this size on get a line on stderr while hashed: seconds in the command line's C1-only JVM. */
    private static final long ANNOUNCED_BYTES = 100L << 20;

    /** The pieces of a file hashed side by side ({@link #tree}). */
    static final long CHUNK = 64L << 20;

    /**
     * A file's hash as a tree, so that every core can take part: SHA-256 of its size and of its {@code chunk}-byte
     * pieces' SHA-256s. One stream of SHA-256 runs at about 70 MB/s in the command line's C1-only JVM, which has no
     * intrinsic for it (700 MB/s with C2): VGG16's 275 MB took 3.3-4.6 s on one core, 2.1-2.4 s so on two.
     */
    static String tree(Path real, long chunk) throws IOException {
        long size = Files.size(real);
        if (size >= ANNOUNCED_BYTES) {
            System.err.printf("snapscore: plan cache: hashing %s (%d MB), once for this file%n", real, size >> 20);
        }
        // Mapped in an arena, so the pages leave this process when hashed rather than when a GC finds the buffer.
        try (FileChannel ch = FileChannel.open(real, StandardOpenOption.READ); Arena arena = Arena.ofShared()) {
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long pieces = Math.max(1, (size + chunk - 1) / chunk);
            List<byte[]> digests = LongStream.range(0, pieces).parallel().mapToObj(i -> {
                MessageDigest md = sha256();
                md.update(all.asSlice(i * chunk, Math.min(chunk, size - i * chunk)).asByteBuffer());
                return md.digest();
            }).toList();
            MessageDigest root = sha256();
            root.update(ByteBuffer.allocate(Long.BYTES).putLong(size).array());
            digests.forEach(root::update);
            return HexFormat.of().formatHex(root.digest());
        }
    }

    private static void update(MessageDigest md, String s) {
        md.update(s.getBytes(StandardCharsets.UTF_8));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK always has SHA-256", e);
        }
    }
}
