package dev.snapscore.engine.image;

import org.bytedeco.opencv.opencv_core.Mat;

/**
 * A decoded photo: its 8-bit BGR pixels, upright, perhaps decoded at 1/2, 1/4 or 1/8 scale (see
 * {@link DecodeOptions}), and the photo's own upright size, in which {@link FaceDetector} reports faces.
 * Owns the Mat: close the photo once.
 */
public record Photo(Mat bgr, int width, int height) implements AutoCloseable {
    public Photo {
        if (width < bgr.cols() || height < bgr.rows()) {
            throw new IllegalArgumentException("a photo of " + width + "x" + height + " cannot hold " + bgr.cols() + "x" + bgr.rows() + " pixels");
        }
    }

    @Override
    public void close() {
        bgr.close();
    }
}
