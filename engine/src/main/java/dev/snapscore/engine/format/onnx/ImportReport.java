package dev.snapscore.engine.format.onnx;

import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Preprocess;

import java.util.List;

/**
 * What an ONNX import saw and did: the file's opset and producer, every rewrite of the normalisation (what was
 * removed or folded, and why), the input layout and preprocessing decided, the spec built (null when refused) and
 * every problem found, first one first (empty when the model loaded). {@code preprocessBuiltIn}: whether
 * {@code preprocess} came from normalisation in the graph (else it is Caffe's, assumed).
 */
public record ImportReport(String file, long opset, String producer, List<String> rewrites, InputLayout inputLayout,
                           Preprocess preprocess, boolean preprocessBuiltIn, String preprocessing, ModelSpec spec,
                           List<String> problems) {
    public ImportReport {
        rewrites = List.copyOf(rewrites);
        problems = List.copyOf(problems);
    }

    public boolean refused() {
        return !problems.isEmpty();
    }
}
