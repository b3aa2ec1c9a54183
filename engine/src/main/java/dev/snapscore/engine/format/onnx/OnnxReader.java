package dev.snapscore.engine.format.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnsafeByteOperations;
import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.format.onnx.OnnxProtos.AttributeProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.GraphProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.ModelProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.NodeProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.OperatorSetIdProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorShapeProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.ValueInfoProto;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads an ONNX file into a {@link Graph}. The file is mapped and parsed with aliasing, so f32 initializers are
 * views of the mapping, not heap copies: a full VGG16 (~553 MB) imports with a small heap. The mapping must stay
 * open while the graph is used.
 */
final class OnnxReader {
    static final int MIN_OPSET = 7, MAX_OPSET = 21;

    private OnnxReader() {
    }

    /** @throws ModelFormatException for a file that is missing, not ONNX, of another opset, or without one image input */
    static Graph read(Path file, Arena mapping) {
        if (!Files.isRegularFile(file)) throw new ModelFormatException("no such ONNX file: " + file);
        ModelProto model = parse(file, mapping);
        GraphProto proto = model.getGraph();
        Long opset = null;
        for (OperatorSetIdProto op : model.getOpsetImportList()) {
            if (op.getDomain().isEmpty() || op.getDomain().equals("ai.onnx")) opset = op.getVersion();
        }
        if (opset == null) throw new ModelFormatException(file + ": the model imports no default-domain opset");
        if (opset < MIN_OPSET || opset > MAX_OPSET) {
            throw new ModelFormatException(file + ": opset " + opset + " is not supported; snapscore reads opsets " + MIN_OPSET + "–" + MAX_OPSET);
        }
        String producer = (model.getProducerName() + " " + model.getProducerVersion()).trim();
        String name = proto.getName().isEmpty() ? file.getFileName().toString().replaceFirst("\\.onnx$", "") : proto.getName();
        Graph graph = new Graph(opset, producer, name);
        Path folder = file.toAbsolutePath().getParent();
        TensorDecoder decoder = new TensorDecoder(folder, mapping);
        for (TensorProto t : proto.getInitializerList()) {
            try {
                graph.constants.put(t.getName(), decoder.decode(t));
            } catch (ModelFormatException | ArithmeticException e) {
                graph.problems.add("initializer '" + t.getName() + "' " + e.getMessage());
                graph.unreadable.add(t.getName());
            }
        }
        input(file, proto, graph);
        for (int i = 0; i < proto.getNodeCount(); i++) {
            NodeProto n = proto.getNode(i);
            Map<String, AttributeProto> attributes = new LinkedHashMap<>();
            for (AttributeProto a : n.getAttributeList()) attributes.put(a.getName(), a);
            Node node = new Node(i, n.getName(), n.getOpType(), n.getInputList(), n.getOutputList(), attributes);
            if (!n.getDomain().isEmpty() && !n.getDomain().equals("ai.onnx")) {
                graph.problem(node, "is in domain '" + n.getDomain() + "'; snapscore reads the default ONNX domain only");
            }
            if (n.getOutputCount() == 0 || n.getOutput(0).isEmpty()) graph.problem(node, "has no output");
            if (node.op.equals("Constant")) constantNode(node, decoder, graph);
            else graph.nodes.add(node);
        }
        for (ValueInfoProto out : proto.getOutputList()) graph.outputs.add(out.getName());
        graph.externalData = decoder.externalFiles(); // initializers' and Constant nodes'
        return graph;
    }

    private static ModelProto parse(Path file, Arena mapping) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size == 0) throw new ModelFormatException(file + ": not an ONNX model (the file is empty)");
            if (size > Integer.MAX_VALUE) {
                throw new ModelFormatException(file + ": " + size + " bytes is over protobuf's 2 GB limit; models this "
                        + "large keep their weights in external data files");
            }
            ByteBuffer bytes = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, mapping).asByteBuffer();
            CodedInputStream coded = UnsafeByteOperations.unsafeWrap(bytes).newCodedInput();
            coded.enableAliasing(true);
            coded.setSizeLimit(Integer.MAX_VALUE);
            ModelProto model = ModelProto.parseFrom(coded);
            if (!model.hasGraph() || model.getGraph().getNodeCount() == 0) {
                throw new ModelFormatException(file + ": not an ONNX model (no graph with nodes)");
            }
            return model;
        } catch (InvalidProtocolBufferException e) {
            throw new ModelFormatException(file + ": not an ONNX model, or truncated (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** The one graph input that is not an initializer (model-zoo files list their initializers as inputs too). */
    private static void input(Path file, GraphProto proto, Graph graph) {
        List<ValueInfoProto> inputs = new ArrayList<>();
        for (ValueInfoProto v : proto.getInputList()) {
            if (!graph.isConstant(v.getName()) && !graph.unreadable.contains(v.getName())) inputs.add(v);
        }
        if (inputs.size() != 1) {
            throw new ModelFormatException(file + ": the graph has " + inputs.size() + " inputs; snapscore needs exactly one image input");
        }
        ValueInfoProto in = inputs.getFirst();
        String name = in.getName();
        TensorShapeProto shape = in.getType().getTensorType().getShape();
        int elemType = in.getType().getTensorType().getElemType();
        if (elemType != TensorProto.DataType.FLOAT_VALUE) {
            throw new ModelFormatException(file + ": input '" + name + "' has element type " + elemType + "; snapscore needs float (1)");
        }
        if (shape.getDimCount() != 4) {
            throw new ModelFormatException(file + ": input '" + name + "' has " + shape.getDimCount()
                    + " dimensions; snapscore needs [batch, channels, height, width] or [batch, height, width, channels]");
        }
        long[] dims = new long[4];
        TensorShapeProto.Dimension batch = shape.getDim(0);
        dims[0] = batch.hasDimValue() && batch.getDimValue() > 0 ? batch.getDimValue() : Graph.BATCH;
        for (int i = 1; i < 4; i++) {
            var d = shape.getDim(i);
            if (!d.hasDimValue() || d.getDimValue() < 1 || d.getDimValue() > Integer.MAX_VALUE) {
                throw new ModelFormatException(file + ": input '" + name + "' dimension " + i + " must be a fixed size, got "
                        + (d.hasDimParam() ? "'" + d.getDimParam() + "'" : d.getDimValue()));
            }
            dims[i] = d.getDimValue();
        }
        graph.input = name;
        graph.inputDims = dims;
    }

    /** A Constant node becomes a constant: value (a tensor), value_float(s) or value_int(s). */
    private static void constantNode(Node node, TensorDecoder decoder, Graph graph) {
        Constant value = null;
        for (AttributeProto a : node.attributes.values()) {
            switch (a.getName()) {
                case "value" -> {
                    try {
                        value = decoder.decode(a.getT());
                    } catch (ModelFormatException | ArithmeticException e) {
                        graph.problem(node, "holds a tensor that " + e.getMessage());
                        return;
                    }
                }
                case "value_float" -> value = Constant.ofFloats(new long[0], new float[] {a.getF()});
                case "value_floats" -> {
                    float[] v = new float[a.getFloatsCount()];
                    for (int i = 0; i < v.length; i++) v[i] = a.getFloats(i);
                    value = Constant.ofFloats(new long[] {v.length}, v);
                }
                case "value_int" -> value = Constant.ofInts(new long[0], new long[] {a.getI()});
                case "value_ints" -> value = Constant.ofInts(new long[] {a.getIntsCount()},
                        a.getIntsList().stream().mapToLong(Long::longValue).toArray());
                default -> { }
            }
        }
        if (value == null) {
            graph.problem(node, "has no 'value', 'value_float(s)' or 'value_int(s)'; snapscore reads numeric constants only");
            return;
        }
        graph.constants.put(node.output(0), value);
    }
}
