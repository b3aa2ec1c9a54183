package dev.snapscore.engine.format.onnx;

import com.google.protobuf.ByteString;
import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.format.onnx.OnnxProtos.StringStringEntryProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorProto.DataType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.snapscore.engine.format.onnx.TestGraphs.assertFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorDecoderTest {
    private static TensorProto.Builder tensor(int type, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName("t").setDataType(type);
        for (long d : dims) t.addDims(d);
        return t;
    }

    private static ByteString bytes(int size, java.util.function.Consumer<ByteBuffer> fill) {
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        fill.accept(b);
        return ByteString.copyFrom(b.array());
    }

    @Test
    void halfBfloatAndDoubleBecomeFloatsOnce(@TempDir Path dir) {
        try (Arena arena = Arena.ofConfined()) {
            TensorDecoder decoder = new TensorDecoder(dir, arena);
            // fp16 1.5 = 0x3E00, -2 = 0xC000; bf16 1.5 = 0x3FC0, -2 = 0xC000.
            assertFloats(new float[] {1.5f, -2}, decoder.decode(tensor(DataType.FLOAT16_VALUE, 2)
                    .setRawData(bytes(4, b -> b.putShort((short) 0x3E00).putShort((short) 0xC000))).build()).floats(), 0);
            assertFloats(new float[] {1.5f, -2}, decoder.decode(tensor(DataType.FLOAT16_VALUE, 2)
                    .addInt32Data(0x3E00).addInt32Data(0xC000).build()).floats(), 0);
            assertFloats(new float[] {1.5f, -2}, decoder.decode(tensor(DataType.BFLOAT16_VALUE, 2)
                    .setRawData(bytes(4, b -> b.putShort((short) 0x3FC0).putShort((short) 0xC000))).build()).floats(), 0);
            assertFloats(new float[] {0.25f, 3}, decoder.decode(tensor(DataType.DOUBLE_VALUE, 2).addDoubleData(0.25).addDoubleData(3).build()).floats(), 0);
            assertArrayEquals(new long[] {-1, 7}, decoder.decode(tensor(DataType.INT32_VALUE, 2)
                    .setRawData(bytes(8, b -> b.putInt(-1).putInt(7))).build()).longs());
            var e = assertThrows(ModelFormatException.class, () -> decoder.decode(tensor(DataType.STRING_VALUE, 1).build()));
            assertTrue(e.getMessage().startsWith("has data type 8"), e.getMessage());
        }
    }

    @Test
    void externalDataIsReadFromTheModelsFolderWithinItsFile(@TempDir Path dir) throws IOException {
        Path model = Files.createDirectories(dir.resolve("model"));
        Files.write(model.resolve("w.bin"), bytes(16, b -> b.putFloat(9).putFloat(1).putFloat(2).putFloat(3)).toByteArray());
        Files.write(dir.resolve("outside.bin"), new byte[8]);
        try (Arena arena = Arena.ofConfined()) {
            TensorDecoder decoder = new TensorDecoder(model, arena);
            assertFloats(new float[] {1, 2, 3}, decoder.decode(external(3, "w.bin", "4", "12")).floats(), 0);
            assertFloats(new float[] {2, 3}, decoder.decode(external(2, "w.bin", "8", null)).floats(), 0);
            assertMessage(decoder, external(2, "../outside.bin", null, null), "which is not a file inside the model's folder");
            assertMessage(decoder, external(2, "w.bin", "12", "8"), "reads bytes 12..20 of external file 'w.bin', which has 16");
            assertMessage(decoder, external(2, "w.bin", "4", "12"), "has 12 bytes of data for dims [2] (8 expected)");
            assertMessage(decoder, external(2, "missing.bin", null, null), "which is not a file inside the model's folder");
        }
    }

    private static TensorProto external(long n, String location, String offset, String length) {
        TensorProto.Builder t = tensor(DataType.FLOAT_VALUE, n).setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue(location));
        if (offset != null) t.addExternalData(StringStringEntryProto.newBuilder().setKey("offset").setValue(offset));
        if (length != null) t.addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue(length));
        return t.build();
    }

    private static void assertMessage(TensorDecoder decoder, TensorProto t, String expected) {
        var e = assertThrows(ModelFormatException.class, () -> decoder.decode(t));
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }
}
