package dev.snapscore.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * ONNX Runtime Java, CPU execution provider, at its best settings for one request at a time: all graph
 * optimisations, intra-op threads = the thread count, sequential execution, one inter-op thread, a
 * direct input buffer created once.
 */
final class OnnxRuntimeEngine implements InferenceEngine {
    private final OrtSession.SessionOptions options;
    private final OrtSession session;
    private final OnnxTensor input;
    private final String inputName;

    OnnxRuntimeEngine(Path onnx, int batch, int threads) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        options = bestOptions(threads);
        session = env.createSession(onnx.toString(), options);
        inputName = session.getInputNames().iterator().next();
        float[] x = InferenceEngine.randomImages(batch, 3 * 224 * 224);
        FloatBuffer direct = ByteBuffer.allocateDirect(x.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer().put(x);
        direct.rewind();
        input = OnnxTensor.createTensor(env, direct, new long[] {batch, 3, 224, 224});
    }

    /** The settings above, for every benchmark that runs ONNX Runtime; the caller closes them. */
    static OrtSession.SessionOptions bestOptions(int threads) throws OrtException {
        var options = new OrtSession.SessionOptions();
        try {
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            options.setIntraOpNumThreads(threads);
            options.setInterOpNumThreads(1);
            options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            return options;
        } catch (OrtException | RuntimeException e) {
            options.close();
            throw e;
        }
    }

    @Override
    public Object infer() throws OrtException {
        try (OrtSession.Result r = session.run(Map.of(inputName, input))) {
            return ((float[][]) r.get(0).getValue())[0][0];
        }
    }

    @Override
    public Outputs outputs() throws OrtException {
        try (OrtSession.Result r = session.run(Map.of(inputName, input), Set.of("logits", "probs"))) {
            return new Outputs(values(r, "logits"), values(r, "probs"));
        }
    }

    private static float[] values(OrtSession.Result r, String output) {
        FloatBuffer buffer = ((OnnxTensor) r.get(output).orElseThrow()).getFloatBuffer();
        float[] values = new float[buffer.remaining()];
        buffer.get(values);
        return values;
    }

    @Override
    public void close() throws OrtException {
        input.close();
        session.close();
        options.close();
    }
}
