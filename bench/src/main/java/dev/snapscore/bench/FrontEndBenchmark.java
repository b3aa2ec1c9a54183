package dev.snapscore.bench;

import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Preprocessor;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Preprocess;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Scalar;
import org.bytedeco.opencv.opencv_core.Size;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.bytedeco.opencv.global.opencv_dnn.blobFromImage;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imread;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_AREA;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;

/** The image front end per photo: snapscore's decode + preprocess against plain OpenCV calls, and Haar cleaning. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class FrontEndBenchmark {
    /** A real photo; re-encoded as a quality-95 JPEG at set-up, as photos usually arrive. */
    @Param({"samples/astronaut.png"})
    public String photo;

    private Path jpeg;
    private final ImageDecoder decoder = ImageDecoder.withDefaults();
    private final Preprocessor preprocessor = new Preprocessor(new InputShape(3, 224, 224), Preprocess.CAFFE);
    private Arena arena;
    private MemorySegment tensor;
    private FaceDetector detector;
    private Mat decoded;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        jpeg = Files.createTempFile("snapscore-bench", ".jpg");
        try (Mat m = decoder.read(Path.of(photo))) {
            imwrite(jpeg.toString(), m);
        }
        arena = Arena.ofShared();
        tensor = arena.allocate(3 * 224 * 224 * 4L, 64);
        detector = new FaceDetector(FaceDetector.Settings.STUDY);
        decoded = decoder.read(jpeg);
    }

    @Benchmark
    public MemorySegment snapscoreDecodeAndPreprocess() {
        try (Mat bgr = decoder.read(jpeg)) {
            preprocessor.write(bgr, tensor, 0);
        }
        return tensor;
    }

    /** What an OpenCV user writes: imread, INTER_AREA resize, blobFromImage with the Caffe means. */
    @Benchmark
    public int opencvDecodeAndPreprocess() {
        try (Mat bgr = imread(jpeg.toString()); Mat small = new Mat(); Size size = new Size(224, 224);
             Scalar mean = new Scalar(103.939, 116.779, 123.68, 0)) {
            resize(bgr, small, size, 0, 0, INTER_AREA);
            try (Mat blob = blobFromImage(small, 1.0, size, mean, false, false, org.bytedeco.opencv.global.opencv_core.CV_32F)) {
                return blob.dims();
            }
        }
    }

    @Benchmark
    public double haarFaceCleaning() {
        return detector.detect(decoded).largestFraction();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        decoded.close();
        detector.close();
        arena.close();
        Files.deleteIfExists(jpeg);
    }
}
