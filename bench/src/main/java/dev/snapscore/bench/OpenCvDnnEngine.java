package dev.snapscore.bench;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.MatVector;
import org.bytedeco.opencv.opencv_core.StringVector;
import org.bytedeco.opencv.opencv_dnn.Net;

import java.nio.FloatBuffer;
import java.nio.file.Path;

import static org.bytedeco.opencv.global.opencv_core.CV_32F;
import static org.bytedeco.opencv.global.opencv_core.setNumThreads;
import static org.bytedeco.opencv.global.opencv_dnn.DNN_BACKEND_OPENCV;
import static org.bytedeco.opencv.global.opencv_dnn.DNN_TARGET_CPU;
import static org.bytedeco.opencv.global.opencv_dnn.readNetFromONNX;

/** OpenCV's DNN module through the JavaCPP presets: readNetFromONNX, its own CPU backend. */
final class OpenCvDnnEngine implements InferenceEngine {
    private final Net net;
    private final Mat blob;
    private final FloatPointer data;

    OpenCvDnnEngine(Path onnx, int batch, int threads) {
        setNumThreads(threads);
        net = readNetFromONNX(onnx.toString());
        net.setPreferableBackend(DNN_BACKEND_OPENCV);
        net.setPreferableTarget(DNN_TARGET_CPU);
        float[] x = InferenceEngine.randomImages(batch, 3 * 224 * 224);
        data = new FloatPointer(x);
        blob = new Mat(new int[] {batch, 3, 224, 224}, CV_32F, data);
    }

    @Override
    public Object infer() {
        net.setInput(blob);
        try (Mat out = net.forward()) {
            return out.rows();
        }
    }

    @Override
    public Outputs outputs() {
        net.setInput(blob);
        try (MatVector out = new MatVector(); StringVector names = new StringVector("logits", "probs")) {
            net.forward(out, names);
            return new Outputs(values(out.get(0)), values(out.get(1)));
        }
    }

    /** Copies a Mat the vector owns (closing the vector frees it). */
    private static float[] values(Mat m) {
        float[] values = new float[(int) m.total()];
        m.<FloatBuffer>createBuffer().get(values);
        return values;
    }

    @Override
    public void close() {
        blob.close();
        data.close();
        net.close();
    }
}
