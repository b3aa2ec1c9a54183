package dev.snapscore.engine.format.onnx;

import com.google.protobuf.ByteString;
import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.format.onnx.OnnxProtos.StringStringEntryProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorProto.DataType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Turns a TensorProto into a {@link Constant}: f32 raw data stays a view of the file mapping; FLOAT16, BFLOAT16 and
 * DOUBLE become f32 once, here; integer types become longs. External data files are mapped in the same arena as
 * the model, and must lie inside the model's folder.
 */
final class TensorDecoder {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final Path folder;
    private final Arena mapping;
    private final Map<Path, MemorySegment> files = new HashMap<>();

    TensorDecoder(Path folder, Arena mapping) {
        this.folder = folder;
        this.mapping = mapping;
    }

    /** The external data files read so far, sorted. */
    List<Path> externalFiles() {
        return files.keySet().stream().sorted().toList();
    }

    /** @throws ModelFormatException saying what is wrong with the tensor (the caller names where it is used) */
    Constant decode(TensorProto t) {
        long[] shape = new long[t.getDimsCount()];
        long n = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = t.getDims(i);
            if (shape[i] < 0) throw new ModelFormatException("has a negative dimension " + t.getDimsList());
            n = Math.multiplyExact(n, shape[i]);
        }
        if (n > Integer.MAX_VALUE) throw new ModelFormatException("has " + n + " values, more than snapscore reads in one tensor");
        int type = t.getDataType();
        int size = elementSize(type);
        if (size == 0) {
            throw new ModelFormatException("has data type " + type + "; snapscore reads float (1), float16 (10), bfloat16 (16), "
                    + "double (11) and integer tensors");
        }
        MemorySegment raw = null;
        if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            raw = external(t);
        } else if (t.hasRawData()) {
            ByteString bytes = t.getRawData();
            raw = MemorySegment.ofBuffer(bytes.asReadOnlyByteBuffer());
        }
        if (raw != null && raw.byteSize() != n * size) {
            throw new ModelFormatException("has " + raw.byteSize() + " bytes of data for dims " + t.getDimsList() + " (" + n * size + " expected)");
        }
        int count = (int) n;
        return switch (type) {
            case DataType.FLOAT_VALUE -> {
                if (raw != null) yield new Constant(shape, raw, null);
                check(t.getFloatDataCount(), n, t);
                float[] v = new float[count];
                for (int i = 0; i < count; i++) v[i] = t.getFloatData(i);
                yield Constant.ofFloats(shape, v);
            }
            case DataType.FLOAT16_VALUE, DataType.BFLOAT16_VALUE -> {
                // Typed storage keeps 16-bit values in int32_data.
                if (raw == null) check(t.getInt32DataCount(), n, t);
                float[] v = new float[count];
                for (int i = 0; i < count; i++) {
                    short bits = raw != null ? raw.getAtIndex(JAVA_SHORT_UNALIGNED.withOrder(LE), i) : (short) t.getInt32Data(i);
                    v[i] = type == DataType.FLOAT16_VALUE ? Float.float16ToFloat(bits) : Float.intBitsToFloat((bits & 0xffff) << 16);
                }
                yield Constant.ofFloats(shape, v);
            }
            case DataType.DOUBLE_VALUE -> {
                if (raw == null) check(t.getDoubleDataCount(), n, t);
                float[] v = new float[count];
                for (int i = 0; i < count; i++) {
                    v[i] = (float) (raw != null ? raw.getAtIndex(JAVA_DOUBLE_UNALIGNED.withOrder(LE), i) : t.getDoubleData(i));
                }
                yield Constant.ofFloats(shape, v);
            }
            case DataType.INT64_VALUE -> {
                if (raw != null) yield Constant.ofInts(shape, raw.toArray(JAVA_LONG_UNALIGNED.withOrder(LE)));
                check(t.getInt64DataCount(), n, t);
                yield Constant.ofInts(shape, t.getInt64DataList().stream().mapToLong(Long::longValue).toArray());
            }
            case DataType.UINT64_VALUE -> {
                if (raw != null) yield Constant.ofInts(shape, raw.toArray(JAVA_LONG_UNALIGNED.withOrder(LE)));
                check(t.getUint64DataCount(), n, t);
                yield Constant.ofInts(shape, t.getUint64DataList().stream().mapToLong(Long::longValue).toArray());
            }
            default -> { // int32, int16, uint16, int8, uint8, bool: int32_data, or raw bytes of their own width
                if (raw == null) check(t.getInt32DataCount(), n, t);
                long[] v = new long[count];
                for (int i = 0; i < count; i++) {
                    v[i] = raw == null ? t.getInt32Data(i) : switch (type) {
                        case DataType.INT32_VALUE -> raw.getAtIndex(JAVA_INT_UNALIGNED.withOrder(LE), i);
                        case DataType.UINT32_VALUE -> raw.getAtIndex(JAVA_INT_UNALIGNED.withOrder(LE), i) & 0xffffffffL;
                        case DataType.INT16_VALUE -> raw.getAtIndex(JAVA_SHORT_UNALIGNED.withOrder(LE), i);
                        case DataType.UINT16_VALUE -> raw.getAtIndex(JAVA_SHORT_UNALIGNED.withOrder(LE), i) & 0xffff;
                        case DataType.INT8_VALUE -> raw.get(JAVA_BYTE, i);
                        default -> raw.get(JAVA_BYTE, i) & 0xff;
                    };
                }
                yield Constant.ofInts(shape, v);
            }
        };
    }

    private static int elementSize(int type) {
        return switch (type) {
            case DataType.FLOAT_VALUE, DataType.INT32_VALUE, DataType.UINT32_VALUE -> 4;
            case DataType.DOUBLE_VALUE, DataType.INT64_VALUE, DataType.UINT64_VALUE -> 8;
            case DataType.FLOAT16_VALUE, DataType.BFLOAT16_VALUE, DataType.INT16_VALUE, DataType.UINT16_VALUE -> 2;
            case DataType.INT8_VALUE, DataType.UINT8_VALUE, DataType.BOOL_VALUE -> 1;
            default -> 0;
        };
    }

    private static void check(int count, long n, TensorProto t) {
        if (count != n) throw new ModelFormatException("has " + count + " values for dims " + t.getDimsList());
    }

    /** The bytes of externally stored data: {@code location} inside the model's folder, {@code offset} and {@code length} within the file. */
    private MemorySegment external(TensorProto t) {
        String location = null;
        long offset = 0, length = -1;
        for (StringStringEntryProto e : t.getExternalDataList()) {
            try {
                switch (e.getKey()) {
                    case "location" -> location = e.getValue();
                    case "offset" -> offset = Long.parseLong(e.getValue());
                    case "length" -> length = Long.parseLong(e.getValue());
                    default -> { } // "checksum" and others do not change where the bytes are
                }
            } catch (NumberFormatException x) {
                throw new ModelFormatException("has external data " + e.getKey() + " '" + e.getValue() + "', not a number");
            }
        }
        if (location == null || location.isEmpty()) throw new ModelFormatException("is stored externally but names no location");
        Path dir = folder.toAbsolutePath().normalize();
        Path file = dir.resolve(location).normalize();
        try {
            if (!file.startsWith(dir) || !Files.isRegularFile(file) || !file.toRealPath().startsWith(dir.toRealPath())) {
                throw new ModelFormatException("is stored in external file '" + location + "', which is not a file inside the model's folder " + dir);
            }
            MemorySegment whole = files.get(file);
            if (whole == null) {
                try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                    whole = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), mapping);
                }
                files.put(file, whole);
            }
            if (length < 0) length = whole.byteSize() - offset;
            if (offset < 0 || length < 0 || offset + length > whole.byteSize()) {
                throw new ModelFormatException("reads bytes " + offset + ".." + (offset + length) + " of external file '" + location
                        + "', which has " + whole.byteSize());
            }
            return whole.asSlice(offset, length);
        } catch (IOException e) {
            throw new ModelFormatException("is stored in external file '" + location + "', which cannot be read: " + e.getMessage(), e);
        }
    }
}
