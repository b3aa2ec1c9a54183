package dev.snapscore.engine.format.onnx;

import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.spec.Preprocess;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;

/**
 * Reads a VGG-family ONNX graph (opset 7–21: torch.onnx, the ONNX model zoo, tf2onnx) into a {@link
 * dev.snapscore.engine.spec.ModelSpec} and its weights, in three steps: read the file into a graph ({@link
 * OnnxReader}), normalise it (constant folding, Identity/Dropout and identity pools, the NHWC input's Transpose,
 * normalisation baked into the input, BatchNormalization folding, global average pools), then lower the chain
 * that is left to layers ({@link Lowering}).
 */
public final class OnnxImporter {
    private OnnxImporter() {
    }

    /** A loaded model and the report of its import. */
    public record Imported(LoadedModel model, ImportReport report) implements AutoCloseable {
        @Override
        public void close() {
            model.close();
        }
    }

    /**
     * Parses {@code onnxFile}; weights are copied into native memory owned by the returned model (close it). Labels
     * are "0".."n-1"; the preprocessing is the one baked into the graph, else Caffe's, since ONNX carries neither.
     *
     * @throws ModelFormatException naming every node that snapscore cannot run (its op and why), first one first; or
     *                              for a file that is missing or not ONNX
     */
    public static LoadedModel read(Path onnxFile) {
        return readWithReport(onnxFile).model();
    }

    /** As {@link #read}, with the import's report. */
    public static Imported readWithReport(Path onnxFile) {
        Imported imported = run(onnxFile);
        if (imported.report().refused()) throw refusal(onnxFile, imported.report().problems());
        return imported;
    }

    /**
     * The report of importing {@code onnxFile}, with every problem when it is refused; nothing stays loaded.
     *
     * @throws ModelFormatException for a file that is missing or not ONNX, of an unsupported opset or without one image input
     */
    public static ImportReport inspect(Path onnxFile) {
        Imported imported = run(onnxFile);
        if (imported.model() != null) imported.model().close();
        return imported.report();
    }

    private static Imported run(Path file) {
        // The mapping ends once weights are copied into the model's own arena.
        try (Arena mapping = Arena.ofConfined()) {
            Graph graph = OnnxReader.read(file, mapping);
            Arena arena = Arena.ofShared();
            try {
                normalise(graph);
                LoadedModel model = Lowering.lower(graph, arena);
                if (model == null) arena.close();
                ImportReport report = new ImportReport(file.toString(), graph.opset, graph.producer, graph.rewrites, graph.inputLayout,
                        graph.preprocess != null ? graph.preprocess : Preprocess.CAFFE, graph.preprocess != null, graph.preprocessing, model != null ? model.spec() : null, graph.problems);
                return new Imported(model, report);
            } catch (RuntimeException e) {
                arena.close();
                throw new ModelFormatException(file + ": " + e.getMessage(), e);
            }
        }
    }

    /** The rewrites, in an order where each finds what it needs: constants folded, pass-throughs gone, the input's layout known. */
    static void normalise(Graph graph) {
        ConstantFolding.apply(graph);
        PassThroughRemoval.apply(graph);
        InputLayoutPass.apply(graph);
        InputNormalisation.apply(graph);
        BatchNormFolding.apply(graph);
        GlobalPooling.apply(graph);
    }

    static ModelFormatException refusal(Path file, List<String> problems) {
        return new ModelFormatException(String.join("\n", problems.stream().map(p -> file + ": " + p).toList()));
    }
}
