package dev.snapscore.engine.format.onnx;

import dev.snapscore.engine.Model;
import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.runtime.TestRuns;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.ModelSpec;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static dev.snapscore.engine.format.onnx.TestGraphs.assertFloats;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** A tf2onnx model with an NHWC input scores photos as the same network with an NCHW input does. */
class NhwcInputScoringTest {
    private static Path resource(String name) throws Exception {
        return Path.of(NhwcInputScoringTest.class.getResource(name).toURI());
    }

    @Test
    void photosScoreTheSameThroughTheNhwcInputAsThroughNchw() throws Exception {
        Path onnx = resource("/onnx-exporters/keras-vgg16-nhwc-op13.onnx");
        List<Path> photos = List.of(resource("/fixtures/images/astronaut.png"), resource("/fixtures/images/coffee.png"));
        LoadedModel nhwc = OnnxImporter.read(onnx);
        assertEquals(InputLayout.NHWC, nhwc.spec().input().layout());
        LoadedModel imported = OnnxImporter.read(onnx);
        ModelSpec s = imported.spec();
        InputShape in = s.input();
        LoadedModel nchw = new LoadedModel(new ModelSpec(s.name(), new InputShape(in.channels(), in.height(), in.width(), InputLayout.NCHW),
                s.preprocess(), s.layers(), s.labels(), s.values()), imported.weights());
        try (Model a = Model.of(nhwc, TestRuns.DIRECT); Model b = Model.of(nchw, TestRuns.DIRECT); Session sa = a.newSession(2); Session sb = b.newSession(2)) {
            List<Prediction> pa = sa.score(photos), pb = sb.score(photos);
            for (int i = 0; i < photos.size(); i++) {
                assertEquals(pb.get(i).labelIndex(), pa.get(i).labelIndex(), photos.get(i).toString());
                assertFloats(pb.get(i).probabilities(), pa.get(i).probabilities(), 1e-5);
            }
        }
    }
}
