package dev.snapscore.bench;

import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Photo;
import dev.snapscore.engine.image.Preprocessor;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Preprocess;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
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
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_JPEG_QUALITY;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imencode;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imread;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_AREA;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_CUBIC;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;

/**
 * The image front end per photo: snapscore's decode + preprocess against plain OpenCV calls, and Haar cleaning;
 * and the same photo as a phone takes it (12 MP, 4032 x 3024 JPEG quality 90), decoded exactly and fast.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class FrontEndBenchmark {
    /** A real photo; re-encoded as a quality-95 JPEG at set-up, as photos usually arrive. */
    @Param({"samples/astronaut.png"})
    public String photo;

    private Path jpeg;
    private byte[] phoneJpeg;
    private final ImageDecoder decoder = ImageDecoder.withDefaults();
    private final InputShape input = new InputShape(3, 224, 224);
    private final Preprocessor preprocessor = new Preprocessor(input, Preprocess.CAFFE);
    private Arena arena;
    private MemorySegment tensor;
    private static final double STUDY_FACE_FRACTION = 0.15;
    private FaceDetector detector;
    private Photo decoded;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        jpeg = Files.createTempFile("snapscore-bench", ".jpg");
        try (Photo original = decoder.read(Path.of(photo), DecodeOptions.EXACT, input, null); Mat phone = new Mat(); Size size = new Size(4032, 3024);
             BytePointer encoded = new BytePointer(); IntPointer quality = new IntPointer(IMWRITE_JPEG_QUALITY, 90)) {
            Mat m = original.bgr();
            imwrite(jpeg.toString(), m);
            resize(m, phone, size, 0, 0, INTER_CUBIC);
            if (!imencode(".jpg", phone, encoded, quality)) throw new IllegalStateException("could not encode the 12 MP JPEG");
            phoneJpeg = new byte[(int) encoded.limit()];
            encoded.get(phoneJpeg);
        }
        arena = Arena.ofShared();
        tensor = arena.allocate(3 * 224 * 224 * 4L, 64);
        detector = new FaceDetector(FaceDetector.Settings.STUDY, DecodeOptions.DEFAULT);
        decoded = decoder.read(jpeg, DecodeOptions.EXACT, input, null);
    }

    /** As {@code score} does by default (this 512 px JPEG decodes at 1/2). */
    @Benchmark
    public MemorySegment snapscoreDecodeAndPreprocess() {
        try (Photo p = decoder.read(jpeg, DecodeOptions.DEFAULT, input, null)) {
            preprocessor.write(p.bgr(), tensor, 0);
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

    /** The reference path: the whole 12 MP decoded, then INTER_AREA down to 224 x 224. */
    @Benchmark
    public MemorySegment phone12MpExactDecodeAndPreprocess() {
        try (Photo p = decoder.decode(phoneJpeg, "phone.jpg", DecodeOptions.EXACT, input, null)) {
            preprocessor.write(p.bgr(), tensor, 0);
        }
        return tensor;
    }

    /** libjpeg decodes at 1/8 (504 x 378), then INTER_AREA down to 224 x 224. */
    @Benchmark
    public MemorySegment phone12MpFastDecodeAndPreprocess() {
        try (Photo p = decoder.decode(phoneJpeg, "phone.jpg", DecodeOptions.DEFAULT, input, null)) {
            preprocessor.write(p.bgr(), tensor, 0);
        }
        return tensor;
    }

    /**
     * As {@code score --clean} does per photo by default: fast decode, the cascade on a 494 x 371 copy looking only
     * for faces that could cover more than the study's 15%, preprocess.
     */
    @Benchmark
    public double phone12MpFastDecodeCleanAndPreprocess() {
        try (Photo p = decoder.decode(phoneJpeg, "phone.jpg", DecodeOptions.DEFAULT, input, detector.settings())) {
            preprocessor.write(p.bgr(), tensor, 0);
            return detector.detect(p, STUDY_FACE_FRACTION).largestFraction();
        }
    }

    /** As above with {@code --all-faces}: the cascade scans every window size, as the study did. */
    @Benchmark
    public double phone12MpFastDecodeCleanAllFacesAndPreprocess() {
        try (Photo p = decoder.decode(phoneJpeg, "phone.jpg", DecodeOptions.DEFAULT, input, detector.settings())) {
            preprocessor.write(p.bgr(), tensor, 0);
            return detector.detect(p).largestFraction();
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
