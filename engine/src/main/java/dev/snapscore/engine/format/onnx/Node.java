package dev.snapscore.engine.format.onnx;

import dev.snapscore.engine.format.onnx.OnnxProtos.AttributeProto;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One operation of the graph being normalised; mutable, so passes can rewire and rewrite it. */
final class Node {
    final int index;      // position in the file, for messages
    final String name;
    String op;
    final List<String> inputs;
    final List<String> outputs;
    final Map<String, AttributeProto> attributes;

    Node(int index, String name, String op, List<String> inputs, List<String> outputs, Map<String, AttributeProto> attributes) {
        this.index = index;
        this.name = name;
        this.op = op;
        this.inputs = new ArrayList<>(inputs);
        this.outputs = new ArrayList<>(outputs);
        this.attributes = new LinkedHashMap<>(attributes);
    }

    /** Input {@code i}, or "" when the node has none there (ONNX's empty name for an omitted optional input). */
    String input(int i) {
        return i < inputs.size() ? inputs.get(i) : "";
    }

    String output(int i) {
        return i < outputs.size() ? outputs.get(i) : "";
    }

    boolean has(String attribute) {
        return attributes.containsKey(attribute);
    }

    long integer(String attribute, long fallback) {
        AttributeProto a = attributes.get(attribute);
        return a == null ? fallback : a.getI();
    }

    float real(String attribute, float fallback) {
        AttributeProto a = attributes.get(attribute);
        return a == null ? fallback : a.getF();
    }

    long[] integers(String attribute, long[] fallback) {
        AttributeProto a = attributes.get(attribute);
        return a == null ? fallback : a.getIntsList().stream().mapToLong(Long::longValue).toArray();
    }

    String text(String attribute, String fallback) {
        AttributeProto a = attributes.get(attribute);
        return a == null ? fallback : a.getS().toStringUtf8();
    }

    void set(String attribute, float value) {
        attributes.put(attribute, AttributeProto.newBuilder().setName(attribute).setType(AttributeProto.AttributeType.FLOAT).setF(value).build());
    }

    void set(String attribute, long value) {
        attributes.put(attribute, AttributeProto.newBuilder().setName(attribute).setType(AttributeProto.AttributeType.INT).setI(value).build());
    }

    /** "node 3 'name' (op Conv)", the start of every message about a node. */
    String describe() {
        return "node " + index + " '" + name + "' (op " + op + ")";
    }

    @Override
    public String toString() {
        return describe() + " " + inputs + " -> " + outputs + (attributes.isEmpty() ? "" : " " + Arrays.toString(attributes.keySet().toArray()));
    }
}
