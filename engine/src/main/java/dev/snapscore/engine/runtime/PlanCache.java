package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.dnnl.MemoryDesc;
import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Precision;
import dev.snapscore.engine.format.AtomicFiles;
import dev.snapscore.engine.format.LastUse;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * A compiled plan on disk: a model's prepared weights (in the blocked layouts oneDNN's primitives chose, Winograd's
 * transformed filters, bf16 or s8 tensors) and the convolution choices of {@code auto}, for one {@link Key}. Loads
 * memory-map the file and hand oneDNN views of the mapping: no copy, no reorder, and every process on the machine
 * that maps it shares one copy of the weights in the page cache.
 *
 * <p>The file: {@value #MAGIC}, a format version, the length of a binary header (the key, the choices, and per tensor
 * its name, oneDNN memory descriptor blob, offset, size and CRC32C), the header's CRC32C, then the tensors, each
 * at a 4096-byte boundary. The header is checked when the file is opened; a tensor's CRC32C the first time a plan
 * asks for it (CRC32C runs at about 9 GB/s: 30 ms for VGG16's f32 weights, which the first plan touches anyway). A
 * tensor is used only when the layout the primitive asks for now equals the stored one ({@code
 * dnnl_memory_desc_equal}). A file that is missing, foreign (another key), truncated or corrupt is never used: it
 * is reported in one line on stderr and rebuilt; nothing in it is ever read unchecked.
 *
 * <p>Writes go to a temporary file in the same folder that is then renamed over the old one, so two processes
 * starting at once may both write it and the last rename wins; a process that mapped the old file keeps it.
 * A load that maps a file records its use ({@link LastUse}); a write then prunes the folder ({@link PlanCachePruner}).
 * Thread-safe.
 */
public final class PlanCache implements AutoCloseable {
    static final String MAGIC = "SNAPPLAN";
    private static final int FORMAT = 1;
    private static final int PREFIX = 16; // magic, format, header length
    private static final long ALIGN = 4096;
    /** The folder, inside a cache folder, of the model files' hashes ({@code ContentHashes}' memo). */
    public static final String HASHES = "hashes";

    /**
     * What a plan's prepared weights depend on besides the lowering's own decisions.
     *
     * @param model  the model's content, by SHA-256
     * @param engine SHA-256 of the engine's code
     * @param onednn oneDNN's version and source hash
     * @param isa    the instruction set oneDNN dispatches to (after any ONEDNN_MAX_CPU_ISA limit)
     */
    public record Key(String model, String engine, String onednn, String isa, boolean int8Vnni, boolean bf16,
                      Precision precision, ConvolutionAlgorithm convolution) {
        /**
         * A file name that differs for every model, engine build, precision, algorithm and CPU: the rest is checked
         * inside. With the engine build in it, two versions sharing a folder (a rolling upgrade) each keep their own
         * file; in one name they rewrote it in turn, every start a miss.
         */
        String fileName() {
            CRC32C crc = new CRC32C();
            crc.update(model.getBytes(StandardCharsets.UTF_8));
            crc.update(engine.getBytes(StandardCharsets.UTF_8));
            return String.format("%08x", (int) crc.getValue()) + "-" + isa.replaceAll("[^A-Za-z0-9_]", "_") + "-"
                    + precision.name().toLowerCase() + "-" + convolution.name().toLowerCase() + ".plan";
        }
    }

    /** The key of {@code options}' plan for the model and engine code with these hashes, on this CPU and oneDNN. */
    public static Key key(String model, String engine, ModelOptions options) {
        CpuCapabilities cpu = CpuCapabilities.detect();
        return new Key(model, engine, Dnnl.build(), Dnnl.cpuIsaName(), cpu.int8Vnni(), cpu.bf16(), options.precision(),
                options.convolution());
    }

    /** One stored tensor, as the header lists it. */
    record Stored(String name, byte[] desc, long offset, long bytes, int crc32c) {
    }

    /** The header: the key, {@code auto}'s Winograd layers per "batch@threads", the tensors. */
    record Header(Key key, Map<String, List<String>> winograd, List<Stored> tensors) {
    }

    /** How a load used the cache: tensors mapped from it and made anew, and why a file was refused (or null). */
    public record Report(Path file, int mapped, int built, int timed, boolean written, String refused) {
    }

    private final Path file;
    private final Key key;
    private final long limit; // bytes of plan files the folder may keep
    private final Arena arena = Arena.ofShared(); // the mapping, unmapped on close
    private final Map<String, List<Mapped>> tensors = new HashMap<>();
    private final Map<String, List<String>> winograd = new TreeMap<>();
    private final String refused;
    private int mapped, built, timed;
    private boolean dirty, written;

    private static final class Mapped {
        final Stored stored;
        final MemorySegment data;
        boolean verified;

        Mapped(Stored stored, MemorySegment data) {
            this.stored = stored;
            this.data = data;
        }
    }

    private PlanCache(Path file, Key key, long limit) {
        this.file = file;
        this.key = key;
        this.limit = limit;
        String why = null;
        try {
            read();
            LastUse.record(file);
        } catch (NoSuchFileException e) {
            // first load: nothing to report
        } catch (IOException | RuntimeException e) {
            why = e.getMessage();
            tensors.clear();
            winograd.clear();
            dirty = true;
            System.err.println("snapscore: plan cache " + file + " not used (" + why + "); rebuilding it");
        }
        this.refused = why;
    }

    /**
     * The cache for {@code key} in {@code dir}: its file mapped when present and valid, else empty (and written later,
     * then {@code dir} pruned to {@code limit} bytes of plan files).
     */
    public static PlanCache open(Path dir, Key key, long limit) {
        return new PlanCache(dir.resolve(key.fileName()), key, limit);
    }

    private void read() throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < PREFIX + 4) throw new IOException("truncated: " + size + " bytes");
            ByteBuffer prefix = ByteBuffer.allocate(PREFIX).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, prefix, 0);
            prefix.flip();
            byte[] magic = new byte[8];
            prefix.get(magic);
            if (!MAGIC.equals(new String(magic, StandardCharsets.ISO_8859_1))) throw new IOException("not a snapscore plan cache");
            int format = prefix.getInt();
            if (format != FORMAT) throw new IOException("format " + format + ", this engine writes " + FORMAT);
            int length = prefix.getInt();
            if (length < 2 || PREFIX + (long) length + 4 > size) throw new IOException("truncated: header of " + length + " bytes in a file of " + size);
            ByteBuffer rest = ByteBuffer.allocate(length + 4).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, rest, PREFIX);
            CRC32C crc = new CRC32C();
            crc.update(prefix.flip());
            crc.update(rest.slice(0, length));
            if ((int) crc.getValue() != rest.getInt(length)) throw new IOException("corrupt: header checksum mismatch");
            Header h = parseHeader(rest.array(), 0, length);
            if (!key.equals(h.key())) throw new IOException("built for " + difference(h.key()));
            for (Stored s : h.tensors()) {
                if (s.offset() < PREFIX + length + 4 || s.bytes() < 0 || s.offset() + s.bytes() > size) {
                    throw new IOException("truncated: tensor '" + s.name() + "' ends at " + (s.offset() + s.bytes()) + " of " + size + " bytes");
                }
            }
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            for (Stored s : h.tensors()) {
                tensors.computeIfAbsent(s.name(), k -> new ArrayList<>()).add(new Mapped(s, all.asSlice(s.offset(), s.bytes())));
            }
            winograd.putAll(h.winograd());
        }
    }

    private String difference(Key other) {
        if (other == null) return "no key";
        List<String> d = new ArrayList<>();
        if (!key.model().equals(other.model())) d.add("another model");
        if (!key.engine().equals(other.engine())) d.add("another engine build");
        if (!key.onednn().equals(other.onednn())) d.add("oneDNN " + other.onednn() + ", not " + key.onednn());
        if (!key.isa().equals(other.isa()) || key.int8Vnni() != other.int8Vnni() || key.bf16() != other.bf16()) {
            d.add("a CPU with " + other.isa() + ", not " + key.isa());
        }
        if (key.precision() != other.precision() || key.convolution() != other.convolution()) d.add("other options");
        return String.join(", ", d);
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b, at + b.position()) < 0) throw new IOException("truncated");
        }
    }

    /**
     * The tensor {@code name} mapped in exactly {@code wanted}'s layout, its checksum verified; null when the cache
     * has none (then the caller builds it and the cache is rewritten after the plan).
     */
    synchronized MemorySegment find(String name, MemoryDesc wanted) {
        for (Mapped m : tensors.getOrDefault(name, List.of())) {
            if (m.data.byteSize() != wanted.byteSize()) continue;
            try (MemoryDesc stored = MemoryDesc.fromBlob(m.stored.desc())) {
                if (!stored.sameLayoutAs(wanted)) continue;
            }
            if (!m.verified) {
                CRC32C crc = new CRC32C();
                crc.update(m.data.asByteBuffer());
                if ((int) crc.getValue() != m.stored.crc32c()) {
                    System.err.println("snapscore: plan cache " + file + ": tensor '" + name + "' is corrupt; rebuilding it");
                    tensors.get(name).remove(m);
                    built++;
                    dirty = true;
                    return null;
                }
                m.verified = true;
            }
            mapped++;
            return m.data;
        }
        built++;
        dirty = true;
        return null;
    }

    /** {@code auto}'s Winograd layers for {@code batch} on {@code threads} threads, or null if not yet timed. */
    synchronized Set<String> winogradLayers(int batch, int threads) {
        List<String> layers = winograd.get(batch + "@" + threads);
        return layers == null ? null : Set.copyOf(layers);
    }

    synchronized void recordWinogradLayers(int batch, int threads, Set<String> layers) {
        winograd.put(batch + "@" + threads, List.copyOf(layers));
        timed++;
        dirty = true;
    }

    /** A tensor to store: its name, layout and bytes. */
    record Tensor(String name, MemoryDesc desc, MemorySegment data) {
    }

    /**
     * Writes {@code held} (every prepared tensor the network holds now) and the choices, if anything was built or
     * chosen since the file was read or last written, then prunes the folder. A failure (a full disk, a read-only
     * folder) is reported in one line and otherwise ignored: the model runs from what it built.
     */
    synchronized void writeIfChanged(List<Tensor> held) {
        if (!dirty) return;
        try {
            List<Stored> stored = new ArrayList<>();
            long offset = 0; // relative to the first tensor, fixed up below
            for (Tensor t : held) {
                CRC32C crc = new CRC32C();
                crc.update(t.data().asByteBuffer());
                stored.add(new Stored(t.name(), t.desc().toBlob(), offset, t.data().byteSize(), (int) crc.getValue()));
                offset = align(offset + t.data().byteSize());
            }
            // The data starts after the header, whose offsets are fixed-width: measure it, then place the tensors.
            byte[] header = headerBytes(new Header(key, winograd, stored));
            long base = align(PREFIX + header.length + 4);
            List<Stored> placed = new ArrayList<>();
            for (Stored s : stored) placed.add(new Stored(s.name(), s.desc(), base + s.offset(), s.bytes(), s.crc32c()));
            byte[] finalHeader = headerBytes(new Header(key, winograd, placed));
            ByteBuffer head = ByteBuffer.allocate(PREFIX + finalHeader.length + 4).order(ByteOrder.LITTLE_ENDIAN);
            head.put(MAGIC.getBytes(StandardCharsets.ISO_8859_1)).putInt(FORMAT).putInt(finalHeader.length).put(finalHeader);
            CRC32C crc = new CRC32C();
            crc.update(head.array(), 0, head.position());
            head.putInt((int) crc.getValue()).flip();
            Files.createDirectories(file.getParent());
            AtomicFiles.write(file, ch -> {
                ch.write(head, 0);
                for (int i = 0; i < placed.size(); i++) {
                    ByteBuffer b = held.get(i).data().asByteBuffer();
                    long at = placed.get(i).offset();
                    while (b.hasRemaining()) at += ch.write(b, at);
                }
            });
            dirty = false;
            written = true;
        } catch (IOException | RuntimeException e) {
            System.err.println("snapscore: plan cache " + file + " not written (" + e.getMessage() + ")");
            return;
        }
        PlanCachePruner.prune(file, file.resolveSibling(HASHES), limit);
    }

    /**
     * Reads a header that {@link #headerBytes} wrote. Plain binary rather than JSON: a cold JVM reads it in well under
     * a millisecond, where Jackson's first use of records took 0.4 s on a busy 2-core machine.
     */
    static Header parseHeader(byte[] bytes, int offset, int length) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes, offset, length));
        Key key = new Key(in.readUTF(), in.readUTF(), in.readUTF(), in.readUTF(), in.readBoolean(), in.readBoolean(),
                Precision.valueOf(in.readUTF()), ConvolutionAlgorithm.valueOf(in.readUTF()));
        Map<String, List<String>> winograd = new TreeMap<>();
        for (int i = 0, n = count(in, length); i < n; i++) {
            String batch = in.readUTF();
            List<String> layers = new ArrayList<>();
            for (int j = 0, m = count(in, length); j < m; j++) layers.add(in.readUTF());
            winograd.put(batch, layers);
        }
        List<Stored> tensors = new ArrayList<>();
        for (int i = 0, n = count(in, length); i < n; i++) {
            String name = in.readUTF();
            byte[] desc = new byte[count(in, length)];
            in.readFully(desc);
            tensors.add(new Stored(name, desc, in.readLong(), in.readLong(), in.readInt()));
        }
        if (in.available() != 0) throw new IOException("corrupt: " + in.available() + " bytes after the header");
        return new Header(key, winograd, tensors);
    }

    /** A count, which can be no larger than the header holding it. */
    private static int count(DataInputStream in, int length) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > length) throw new IOException("corrupt: a count of " + n + " in a header of " + length + " bytes");
        return n;
    }

    static byte[] headerBytes(Header h) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        Key k = h.key();
        for (String v : new String[] {k.model(), k.engine(), k.onednn(), k.isa()}) out.writeUTF(v);
        out.writeBoolean(k.int8Vnni());
        out.writeBoolean(k.bf16());
        out.writeUTF(k.precision().name());
        out.writeUTF(k.convolution().name());
        out.writeInt(h.winograd().size());
        for (Map.Entry<String, List<String>> e : h.winograd().entrySet()) {
            out.writeUTF(e.getKey());
            out.writeInt(e.getValue().size());
            for (String layer : e.getValue()) out.writeUTF(layer);
        }
        out.writeInt(h.tensors().size());
        for (Stored t : h.tensors()) {
            out.writeUTF(t.name());
            out.writeInt(t.desc().length);
            out.write(t.desc());
            out.writeLong(t.offset());
            out.writeLong(t.bytes());
            out.writeInt(t.crc32c());
        }
        out.flush();
        return bytes.toByteArray();
    }

    private static long align(long at) {
        return (at + ALIGN - 1) / ALIGN * ALIGN;
    }

    public synchronized Report report() {
        return new Report(file, mapped, built, timed, written, refused);
    }

    /** Unmaps the file: only after every plan and memory object that points into it is closed. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
