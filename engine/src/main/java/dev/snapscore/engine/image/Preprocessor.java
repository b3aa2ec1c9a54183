package dev.snapscore.engine.image;

import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Preprocess;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.MatVector;
import org.bytedeco.opencv.opencv_core.Size;

import java.lang.foreign.MemorySegment;

import static org.bytedeco.opencv.global.opencv_core.CV_32F;
import static org.bytedeco.opencv.global.opencv_core.CV_32FC3;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_core.split;
import static org.bytedeco.opencv.global.opencv_core.transform;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_AREA;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;

/**
 * A decoded BGR photo → the network's input: resized with INTER_AREA to the model's size (no crop; the
 * aspect ratio is not kept, as in the original study), channels in the spec's order, minus the spec's
 * means, times its scales, f32 in the spec's input layout (planar NCHW, or interleaved NHWC). Thread-safe.
 */
public record Preprocessor(InputShape input, Preprocess preprocess) {

    public Preprocessor {
        if (input.channels() != 3) {
            throw new IllegalArgumentException("photos have 3 channels; the model takes " + input.channels());
        }
    }

    /** Writes {@code bgr} as image {@code index} of the batch in native memory {@code batch}. */
    public void write(Mat bgr, MemorySegment batch, int index) {
        long perImage = input.elements() * Float.BYTES;
        if (!batch.isNative()) throw new IllegalArgumentException("the batch buffer must be native memory");
        if (index < 0 || (index + 1) * perImage > batch.byteSize()) {
            throw new IndexOutOfBoundsException("image " + index + " does not fit a batch buffer of " + batch.byteSize() + " bytes");
        }
        if (bgr.type() != CV_8UC3) throw new IllegalArgumentException("expected an 8-bit BGR image, got OpenCV type " + bgr.type());
        MemorySegment image = batch.asSlice(index * perImage, perImage);
        try (Mat resized = new Mat(); Size size = new Size(input.width(), input.height())) {
            resize(bgr, resized, size, 0, 0, INTER_AREA);
            if (input.layout() == InputLayout.NHWC) writeInterleaved(resized, image);
            else writePlanar(resized, image);
        }
    }

    private void writePlanar(Mat resized, MemorySegment image) {
        int h = input.height(), w = input.width();
        long planeBytes = (long) h * w * Float.BYTES;
        float[] mean = preprocess.mean();
        float[] scale = preprocess.scale();
        boolean rgb = preprocess.channelOrder().equals("RGB");
        try (Mat floats = new Mat(); MatVector planes = new MatVector(3)) {
            resized.convertTo(floats, CV_32FC3);
            // Split straight into the batch: each plane is a Mat header over its slice of the buffer.
            BytePointer[] memory = new BytePointer[3];
            Mat[] headers = new Mat[3];
            try {
                for (int c = 0; c < 3; c++) {
                    int source = rgb ? 2 - c : c; // OpenCV holds B, G, R
                    memory[c] = new BytePointer(image.asSlice(c * planeBytes, planeBytes).asByteBuffer());
                    headers[c] = new Mat(h, w, CV_32F, memory[c]);
                    planes.put(source, headers[c]);
                }
                split(floats, planes);
                for (int c = 0; c < 3; c++) {
                    if (planes.get(rgb ? 2 - c : c).data().address() != memory[c].address()) {
                        throw new IllegalStateException("OpenCV reallocated a plane instead of writing into the batch");
                    }
                    // In place: (pixel - mean) * scale = pixel * scale - mean * scale.
                    headers[c].convertTo(headers[c], CV_32F, scale[c], -mean[c] * scale[c]);
                }
            } finally {
                for (int c = 0; c < 3; c++) {
                    if (headers[c] != null) headers[c].close();
                    if (memory[c] != null) memory[c].close();
                }
            }
        }
    }

    private void writeInterleaved(Mat resized, MemorySegment image) {
        float[] mean = preprocess.mean();
        float[] scale = preprocess.scale();
        boolean rgb = preprocess.channelOrder().equals("RGB");
        // One affine map per pixel: output channel c = (input channel source(c) - mean[c]) * scale[c].
        float[] affine = new float[12];
        for (int c = 0; c < 3; c++) {
            affine[c * 4 + (rgb ? 2 - c : c)] = scale[c];
            affine[c * 4 + 3] = -mean[c] * scale[c];
        }
        try (BytePointer memory = new BytePointer(image.asByteBuffer());
             Mat out = new Mat(input.height(), input.width(), CV_32FC3, memory);
             FloatPointer affineValues = new FloatPointer(affine);
             Mat map = new Mat(3, 4, CV_32F, affineValues)) {
            resized.convertTo(out, CV_32FC3);
            transform(out, out, map);
            if (out.data().address() != memory.address()) {
                throw new IllegalStateException("OpenCV reallocated the image instead of writing into the batch");
            }
        }
    }
}
