package dev.snapscore.engine.format;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.spec.ElementType;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header mapping tensor names to
 * {@code {dtype, shape, data_offsets}} (offsets relative to the data section), then the raw data.
 * snapscore reads and writes F32 tensors, BF16 for half-size weights, and I8 for quantised weights.
 */
public final class Safetensors {
    /** Headers larger than this are refused as corrupt (real ones are kilobytes). */
    static final long MAX_HEADER_BYTES = 100L << 20;
    /** Only writing uses a mapper, made on first use: reading goes through {@link JsonTree}, light at start-up. */
    private static final class Writer {
        static final ObjectMapper JSON = new ObjectMapper();
    }

    private Safetensors() {
    }

    /**
     * Memory-maps {@code file} read-only and returns its tensors as views of the mapping: nothing is copied.
     * Closing the returned {@link Weights} unmaps the file.
     *
     * @throws ModelFormatException if the file is missing, truncated, or its header is invalid or inconsistent
     */
    public static Weights read(Path file) {
        if (!Files.exists(file)) throw new ModelFormatException("no such file: " + file);
        if (Files.isDirectory(file)) throw new ModelFormatException(file + " is a directory, not a safetensors file");
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < 8) {
                throw new ModelFormatException(file + ": " + size + " bytes is too short for a safetensors file (at least an 8-byte header length)");
            }
            MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLength = mapped.get(JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLength < 2 || headerLength > MAX_HEADER_BYTES || headerLength > size - 8) {
                throw new ModelFormatException(file + ": header length " + headerLength + " does not fit a file of "
                        + size + " bytes (truncated or not a safetensors file)");
            }
            byte[] header = mapped.asSlice(8, headerLength).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            MemorySegment data = mapped.asSlice(8 + headerLength);
            Map<String, Tensor> tensors = parseHeader(file, header, data);
            return new Weights(arena, tensors);
        } catch (IOException e) {
            arena.close();
            throw new ModelFormatException(file + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Map<String, Tensor> parseHeader(Path file, byte[] header, MemorySegment data) {
        JsonNode root;
        try {
            root = JsonTree.read(header);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(file + ": header is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new ModelFormatException(file + ": header is not valid JSON: " + e.getMessage());
        }
        if (root == null || !root.isObject()) throw new ModelFormatException(file + ": header is not a JSON object");
        record Entry(String name, long[] shape, ElementType type, long begin, long end) {
        }
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String name = field.getKey();
            if (name.equals("__metadata__")) continue;
            JsonNode t = field.getValue();
            String where = file + ": tensor '" + name + "'";
            if (!t.isObject()) throw new ModelFormatException(where + " is not a JSON object");
            JsonNode dtype = t.get("dtype"), shape = t.get("shape"), offsets = t.get("data_offsets");
            if (dtype == null || shape == null || offsets == null) {
                throw new ModelFormatException(where + " needs dtype, shape and data_offsets");
            }
            ElementType type = ElementType.ofSafetensors(dtype.asText());
            if (type == null || type == ElementType.U8) {
                throw new ModelFormatException(where + " has dtype " + dtype.asText() + "; snapscore reads F32, BF16 and I8");
            }
            if (!shape.isArray()) throw new ModelFormatException(where + ": shape is not an array");
            long[] dims = new long[shape.size()];
            for (int i = 0; i < dims.length; i++) {
                JsonNode d = shape.get(i);
                if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                    throw new ModelFormatException(where + ": shape " + shape + " has an invalid dimension");
                }
                dims[i] = d.asLong();
            }
            if (!offsets.isArray() || offsets.size() != 2 || !offsets.get(0).isIntegralNumber()
                    || !offsets.get(1).isIntegralNumber()) {
                throw new ModelFormatException(where + ": data_offsets must be [begin, end], got " + offsets);
            }
            long begin = offsets.get(0).asLong(), end = offsets.get(1).asLong();
            if (begin < 0 || end < begin) {
                throw new ModelFormatException(where + ": data_offsets " + offsets + " are not a valid range");
            }
            if (end > data.byteSize()) {
                throw new ModelFormatException(where + ": data_offsets " + offsets + " run past the end of the data ("
                        + data.byteSize() + " bytes): the file is truncated or its header lies");
            }
            long elements;
            try {
                elements = Tensor.elementCount(dims);
            } catch (ArithmeticException e) {
                throw new ModelFormatException(where + ": shape " + Arrays.toString(dims) + " is too large");
            }
            if (elements > Long.MAX_VALUE / type.bytes || elements * type.bytes != end - begin) {
                throw new ModelFormatException(where + ": shape " + Arrays.toString(dims) + " of " + type.safetensorsName
                        + " needs " + elements * type.bytes + " bytes but data_offsets " + offsets + " hold " + (end - begin));
            }
            entries.add(new Entry(name, dims, type, begin, end));
        }
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < byOffset.size(); i++) {
            Entry prev = byOffset.get(i - 1), next = byOffset.get(i);
            if (next.begin() < prev.end()) {
                throw new ModelFormatException(file + ": tensors '" + prev.name() + "' and '" + next.name()
                        + "' overlap (" + prev.begin() + ".." + prev.end() + " and " + next.begin() + ".." + next.end() + ")");
            }
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Entry e : entries) {
            tensors.put(e.name(), new Tensor(e.name(), e.shape(), e.type(), data.asSlice(e.begin(), e.end() - e.begin())));
        }
        return tensors;
    }

    /**
     * Writes {@code tensors} in the given order. The file appears under its name only once complete
     * (written beside it, then moved), so a crash never leaves a half-written file.
     */
    public static void write(Path file, List<Tensor> tensors) throws IOException {
        ObjectNode header = Writer.JSON.createObjectNode();
        long offset = 0;
        for (Tensor t : tensors) {
            ObjectNode entry = header.putObject(t.name());
            entry.put("dtype", t.type().safetensorsName);
            var shape = entry.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            entry.putArray("data_offsets").add(offset).add(offset + t.data().byteSize());
            offset += t.data().byteSize();
        }
        byte[] json = Writer.JSON.writeValueAsBytes(header);
        int padded = (json.length + 8 + 7) / 8 * 8 - 8; // data section starts 8-byte aligned
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        AtomicFiles.write(file, channel -> {
            while (head.hasRemaining()) channel.write(head);
            for (Tensor t : tensors) {
                ByteBuffer src = t.data().asByteBuffer();
                while (src.hasRemaining()) channel.write(src);
            }
        });
    }
}
