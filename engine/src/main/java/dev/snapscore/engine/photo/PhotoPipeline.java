package dev.snapscore.engine.photo;

import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.Result;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Photo;
import dev.snapscore.engine.image.Preprocessor;
import dev.snapscore.engine.spec.ModelSpec;
import org.bytedeco.opencv.opencv_core.Mat;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The one way a photo becomes a row: decode → optional face check → preprocess into a batch slot → run →
 * {@link ScoredPhoto}. The drivers ({@code Session.score}, {@code BatchScorer}, the serving {@code Scorer},
 * the Spark partition scorer) only schedule calls to it. Thread-safe: each thread gets its own face
 * detector; close the pipeline to free them.
 */
public final class PhotoPipeline implements AutoCloseable {
    private final ImageDecoder decoder;
    private final DecodeOptions options;
    private final Preprocessor preprocessor;
    private final FaceCheck faceCheck;
    private final FaceDetectorPool detectors;
    private volatile boolean closed;

    /**
     * @param options      how photos are decoded (fast or exact) and how large the face cascade's copy is
     * @param preprocessor null for a pipeline that only checks faces ({@link #check})
     * @param faceCheck    null to skip face detection
     */
    public PhotoPipeline(ImageDecoder decoder, DecodeOptions options, Preprocessor preprocessor, FaceCheck faceCheck) {
        if (decoder == null) throw new IllegalArgumentException("a decoder is required");
        if (options == null) throw new IllegalArgumentException("decode options are required");
        this.decoder = decoder;
        this.options = options;
        this.preprocessor = preprocessor;
        this.faceCheck = faceCheck;
        this.detectors = faceCheck == null ? null : new FaceDetectorPool(faceCheck.settings(), options);
    }

    /** A pipeline for {@code spec}'s input. */
    public static PhotoPipeline forModel(ModelSpec spec, ImageDecoder decoder, DecodeOptions options, FaceCheck faceCheck) {
        return new PhotoPipeline(decoder, options, new Preprocessor(spec.input(), spec.preprocess()), faceCheck);
    }

    public ImageDecoder decoder() {
        return decoder;
    }

    public FaceCheck faceCheck() {
        return faceCheck;
    }

    /**
     * Decodes the photo, checks its faces, and, if it passes, writes it as image {@code slot} of
     * {@code batch}. Never throws for a bad photo: its failure is in the result.
     *
     * @throws IllegalArgumentException if the slot is outside {@code batch}
     */
    public PreparedPhoto prepare(PhotoSource source, MemorySegment batch, int slot) {
        if (preprocessor == null) throw new IllegalStateException("this pipeline only checks faces");
        long imageBytes = preprocessor.input().elements() * Float.BYTES;
        if (slot < 0 || (slot + 1) * imageBytes > batch.byteSize()) {
            throw new IllegalArgumentException("slot " + slot + " does not fit a batch buffer of " + batch.byteSize() + " bytes");
        }
        return prepare(source, batch, slot, true);
    }

    /** Decodes the photo and checks its faces, without preprocessing (the {@code clean} verb). */
    public PreparedPhoto check(PhotoSource source) {
        if (faceCheck == null) throw new IllegalStateException("this pipeline has no face check");
        return prepare(source, null, -1, false);
    }

    private PreparedPhoto prepare(PhotoSource source, MemorySegment batch, int slot, boolean preprocess) {
        if (closed) throw new IllegalStateException("the photo pipeline is closed");
        long start = System.nanoTime();
        try {
            byte[] encoded = source.file() != null ? decoder.readBytes(source.file()) : source.encoded().get();
            PreparedPhoto early = rejectedFromThumbnail(source.name(), encoded, start);
            if (early != null) return early;
            try (Photo photo = decode(source.name(), encoded)) {
                FaceDetector.Faces faces = null;
                long cleanNanos = 0;
                if (faceCheck != null) {
                    long t = System.nanoTime();
                    faces = detectors.get().detect(photo, faceCheck.smallestFraction());
                    cleanNanos = System.nanoTime() - t;
                    if (!faceCheck.keeps(faces)) {
                        return new PreparedPhoto(source.name(), ScoredPhoto.Status.REJECTED, -1, photo.width(), photo.height(), faces,
                                null, System.nanoTime() - start - cleanNanos, cleanNanos, false);
                    }
                }
                if (preprocess) preprocessor.write(photo.bgr(), batch, slot);
                return new PreparedPhoto(source.name(), ScoredPhoto.Status.OK, preprocess ? slot : -1, photo.width(), photo.height(),
                        faces, null, System.nanoTime() - start - cleanNanos, cleanNanos, false);
            }
        } catch (RuntimeException e) {
            return PreparedPhoto.failed(source.name(), e);
        }
    }

    /**
     * The face rule's verdict from the photo's EXIF thumbnail, when the options allow it and the thumbnail shows no
     * face of even {@link FaceCheck#thumbnailRejectionBound} of the photo: rejected without decoding the photo
     * itself, the bulk of a phone photo's cost (README, "Photos"). Null when the photo must be decoded: no trusted
     * thumbnail, one too small for the cascade to see a face of the bound's size, or a face in it that may pass.
     */
    private PreparedPhoto rejectedFromThumbnail(String name, byte[] encoded, long start) {
        double bound = faceCheck == null ? 0 : faceCheck.thumbnailRejectionBound();
        if (bound == 0 || !options.allowsThumbnails()) return null;
        Optional<Photo> found = decoder.thumbnail(encoded, name);
        if (found.isEmpty()) return null;
        try (Photo thumbnail = found.get()) {
            Mat pixels = thumbnail.bgr();
            if (Math.sqrt(bound * pixels.cols() * pixels.rows()) < FaceDetector.WINDOW) return null;
            long t = System.nanoTime();
            FaceDetector.Faces faces = detectors.get().detect(thumbnail, bound);
            long cleanNanos = System.nanoTime() - t;
            if (faces.largestFraction() > bound) return null;
            return new PreparedPhoto(name, ScoredPhoto.Status.REJECTED, -1, thumbnail.width(), thumbnail.height(), faces,
                    null, System.nanoTime() - start - cleanNanos, cleanNanos, true);
        }
    }

    /**
     * The photo-reading step: at the smallest JPEG reduction that still covers the model input and, when checking
     * faces, the cascade's copy (unless the options ask for an exact decode). The caller closes the photo.
     */
    private Photo decode(String name, byte[] encoded) {
        return decoder.decode(encoded, name, options, preprocessor == null ? null : preprocessor.input(),
                faceCheck == null ? null : faceCheck.settings());
    }

    /**
     * Runs the photos that are in the batch (slots 0..n-1) and returns every photo's outcome, in order:
     * the rejected and failed ones as they were prepared.
     */
    public List<ScoredPhoto> score(Session session, MemorySegment batch, List<PreparedPhoto> photos) {
        int n = (int) photos.stream().filter(p -> p.status() == ScoredPhoto.Status.OK).count();
        Result result = n > 0 ? session.run(batch, n) : null;
        ModelSpec spec = session.model().spec();
        List<ScoredPhoto> out = new ArrayList<>(photos.size());
        for (PreparedPhoto p : photos) {
            out.add(switch (p.status()) {
                case OK -> scored(p, Prediction.of(result, p.slot(), spec), spec);
                case REJECTED -> new ScoredPhoto(p.file(), p.status(), null, p.faces(), null);
                case ERROR -> new ScoredPhoto(p.file(), p.status(), null, null, p.error());
            });
        }
        return out;
    }

    /** A prediction with a NaN or infinite probability is the model's failure, never an answer. */
    private static ScoredPhoto scored(PreparedPhoto p, Prediction prediction, ModelSpec spec) {
        for (float v : prediction.probabilities()) {
            if (!Float.isFinite(v)) {
                return new ScoredPhoto(p.file(), ScoredPhoto.Status.ERROR, null, p.faces(),
                        "model " + spec.name() + " produced a non-finite output (" + v + "); its weights or input are broken");
            }
        }
        return new ScoredPhoto(p.file(), p.status(), prediction, p.faces(), null);
    }

    @Override
    public void close() {
        closed = true;
        if (detectors != null) detectors.close();
    }
}
