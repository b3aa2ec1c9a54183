package dev.snapscore.engine.image;

import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Preprocess;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Size;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_AREA;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;

/**
 * A decoded BGR photo → the network's input: resized with INTER_AREA to the model's size (no crop; the
 * aspect ratio is not kept, as in the original study), channels in the spec's order, minus the spec's
 * means, times its scale, planar NCHW f32. Thread-safe.
 */
public record Preprocessor(InputShape input, Preprocess preprocess) {

    public Preprocessor {
        if (input.channels() != 3) {
            throw new IllegalArgumentException("photos have 3 channels; the model takes " + input.channels());
        }
    }

    /** Writes {@code bgr} as image {@code index} of the (N, 3, H, W) batch in {@code batch}. */
    public void write(Mat bgr, MemorySegment batch, int index) {
        long perImage = input.elements() * Float.BYTES;
        if (index < 0 || (index + 1) * perImage > batch.byteSize()) {
            throw new IndexOutOfBoundsException("image " + index + " does not fit a batch buffer of " + batch.byteSize() + " bytes");
        }
        if (bgr.type() != CV_8UC3) throw new IllegalArgumentException("expected an 8-bit BGR image, got OpenCV type " + bgr.type());
        int h = input.height(), w = input.width();
        try (Mat resized = new Mat(); Size size = new Size(w, h)) {
            resize(bgr, resized, size, 0, 0, INTER_AREA);
            if (!resized.isContinuous() || resized.rows() != h || resized.cols() != w) {
                throw new IllegalStateException("OpenCV resize gave a " + resized.cols() + "x" + resized.rows() + " non-continuous image");
            }
            // A continuous h×w×3 byte image; read it as a segment, no copy.
            MemorySegment pixels = MemorySegment.ofAddress(resized.data().address()).reinterpret((long) h * w * 3);
            MemorySegment dst = batch.asSlice(index * perImage, perImage);
            float[] mean = preprocess.mean();
            float scale = preprocess.scale();
            boolean rgb = preprocess.channelOrder().equals("RGB");
            int plane = h * w;
            for (int c = 0; c < 3; c++) {
                int source = rgb ? 2 - c : c; // OpenCV holds B, G, R
                float m = mean[c];
                long base = (long) c * plane;
                for (int p = 0; p < plane; p++) {
                    float v = Byte.toUnsignedInt(pixels.get(JAVA_BYTE, 3L * p + source));
                    dst.setAtIndex(JAVA_FLOAT_UNALIGNED, base + p, (v - m) * scale);
                }
            }
        }
    }
}
