package dev.snapscore.engine.serving;

import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.photo.FaceCheck;
import dev.snapscore.engine.photo.PhotoPipeline;
import dev.snapscore.engine.photo.PhotoSource;
import dev.snapscore.engine.photo.PreparedPhoto;
import dev.snapscore.engine.photo.ScoredPhoto;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Scalar;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imencode;

/**
 * Scores photos for many concurrent callers with dynamic micro-batching: requests are decoded and
 * preprocessed on a worker pool, then one inference thread runs up to {@code maxBatch} of them at a time,
 * waiting at most {@code maxDelay} after the first for others to join. While it waits, the inference
 * thread prepares queued requests itself, so a worker pool smaller than the cores never leaves it idle.
 * At most {@code capacity} requests are in the scorer at once; beyond that, {@link #submit} fails fast with a
 * {@link ScorerOverloadedException} instead of queueing without bound. Thread-safe.
 *
 * <pre>{@code
 * try (Scorer scorer = Scorer.start(model, Scorer.Options.defaults())) {
 *     ScoredPhoto s = scorer.submit(jpegBytes).join();
 * }
 * }</pre>
 */
public final class Scorer implements AutoCloseable {

    /**
     * @param capacity  requests admitted at once (queued, decoding or being scored)
     * @param workers   threads that decode and preprocess, besides the inference thread while it waits
     * @param decode    fast or exact decoding, and the face cascade's resolution
     * @param detector  face settings, or null to skip face detection (faces are reported, never rejected)
     */
    public record Options(int maxBatch, Duration maxDelay, int capacity, int workers, ImageDecoder decoder,
                          DecodeOptions decode, FaceDetector.Settings detector) {
        public Options {
            if (maxBatch < 1) throw new IllegalArgumentException("max batch must be >= 1, got " + maxBatch);
            if (maxDelay.isNegative()) throw new IllegalArgumentException("max delay must be >= 0");
            if (capacity < maxBatch) throw new IllegalArgumentException("capacity must be >= max batch");
            if (workers < 1) throw new IllegalArgumentException("workers must be >= 1");
            if (decoder == null || decode == null) throw new IllegalArgumentException("a decoder and decode options are required");
        }

        public static Options defaults() {
            return new Options(8, Duration.ofMillis(5), 64, Math.max(1, Runtime.getRuntime().availableProcessors() - 1),
                    ImageDecoder.withDefaults(), DecodeOptions.DEFAULT, null);
        }

        public Options withMaxBatch(int maxBatch, Duration maxDelay) {
            return new Options(maxBatch, maxDelay, Math.max(capacity, maxBatch), workers, decoder, decode, detector);
        }

        public Options withCapacity(int capacity) {
            return new Options(maxBatch, maxDelay, capacity, workers, decoder, decode, detector);
        }

        public Options withDetector(FaceDetector.Settings detector) {
            return new Options(maxBatch, maxDelay, capacity, workers, decoder, decode, detector);
        }

        public Options withDecoder(ImageDecoder decoder) {
            return new Options(maxBatch, maxDelay, capacity, workers, decoder, decode, detector);
        }

        public Options withDecode(DecodeOptions decode) {
            return new Options(maxBatch, maxDelay, capacity, workers, decoder, decode, detector);
        }
    }

    /** A photo ready for inference: its preprocessed image, in slot 0 of {@code image}. */
    private record Request(MemorySegment image, PreparedPhoto photo, CompletableFuture<ScoredPhoto> result, long submitted) {
    }

    private static final Request STOP = new Request(null, null, null, 0);

    private final Model model;
    private final Options options;
    private final Session session;
    private final PhotoPipeline pipeline;
    private final Arena arena = Arena.ofShared();
    /** Batch sizes built at start besides the maximum. */
    private static final int PREPARED_SIZES = 16;
    private final BlockingQueue<MemorySegment> freeImages;
    private final BlockingQueue<Request> ready = new LinkedBlockingQueue<>();
    private final Semaphore admitted;
    private final LinkedBlockingQueue<Runnable> toPrepare = new LinkedBlockingQueue<>();
    private final ThreadPoolExecutor decoders;
    /** Released for every request made ready and every preparation queued: wakes the waiting inference thread. */
    private final Semaphore news = new Semaphore(0);
    private final Thread batcher;
    private final ScorerMetrics metrics;
    private final MemorySegment batch;
    private final long imageBytes;
    private volatile boolean closed;

    private Scorer(Model model, Options options) {
        this.model = model;
        this.options = options;
        this.session = model.newSession();
        this.pipeline = PhotoPipeline.forModel(model.spec(), options.decoder(), options.decode(),
                options.detector() == null ? null : FaceCheck.report(options.detector()));
        this.imageBytes = model.spec().input().elements() * Float.BYTES;
        this.freeImages = new ArrayBlockingQueue<>(options.capacity());
        for (int i = 0; i < options.capacity(); i++) freeImages.add(arena.allocate(imageBytes, 64));
        this.batch = arena.allocate(options.maxBatch() * imageBytes, 64);
        this.admitted = new Semaphore(options.capacity());
        this.metrics = new ScorerMetrics(options.maxBatch());
        this.decoders = new ThreadPoolExecutor(options.workers(), options.workers(), 0, TimeUnit.MILLISECONDS, toPrepare,
                Thread.ofPlatform().name("snapscore-scorer-decode-", 0).daemon(true).factory());
        // Micro-batches take any size up to the maximum, and a size's first run would otherwise build its plan
        // (VGG16 int8: 150-250 ms against 47 ms warm for two images), so sizes are built before serving: the
        // maximum, which a loaded server runs most, and every size up to PREPARED_SIZES (each costs ~0.1 s of
        // start; a --max-batch of hundreds would otherwise start for minutes), the rest on first use.
        for (int n = options.maxBatch(); n >= 1; n--) if (n == options.maxBatch() || n <= PREPARED_SIZES) session.prepare(n);
        try {
            decoders.submit(this::warmUpPhotoPath).get(); // on a decode worker: with --clean, it loads its cascade too
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            throw new IllegalStateException("the photo path failed its warm-up", e.getCause());
        }
        this.batcher = Thread.ofPlatform().name("snapscore-scorer-batcher").daemon(true).start(this::batchLoop);
    }

    /**
     * Takes one small made-up JPEG through decoding, the face check (with --clean) and preprocessing, outside any
     * request: the first photo in a process pays for OpenCV's and this code's first use, about 100 ms on top of a
     * 60 ms request here, which the first client should not.
     */
    private void warmUpPhotoPath() {
        byte[] jpeg;
        try (Scalar grey = new Scalar(128, 128, 128, 0); Mat photo = new Mat(64, 64, CV_8UC3, grey);
             BytePointer encoded = new BytePointer()) {
            if (!imencode(".jpg", photo, encoded)) throw new IllegalStateException("OpenCV could not encode a JPEG");
            jpeg = new byte[(int) encoded.limit()];
            encoded.get(jpeg);
        }
        MemorySegment image = freeImages.poll(); // all are free before the first request
        try {
            pipeline.prepare(PhotoSource.of("warm-up", jpeg), image, 0);
        } finally {
            freeImages.add(image);
        }
    }

    /** Starts a scorer over {@code model}, which must stay open until the scorer is closed. */
    public static Scorer start(Model model, Options options) {
        return new Scorer(model, options);
    }

    /** Scores an encoded photo (JPEG, PNG, BMP, WebP, TIFF). Fails with ImageException for a bad photo. */
    public CompletableFuture<ScoredPhoto> submit(byte[] encoded) {
        return submit(PhotoSource.of("image", encoded));
    }

    /** Scores a photo file. */
    public CompletableFuture<ScoredPhoto> submit(Path file) {
        return submit(PhotoSource.of(file));
    }

    /**
     * Scores a photo from any source; a {@link PhotoSource#reading} source is read where it is prepared (a decode worker,
     * or the inference thread while it waits), holding its slot meanwhile: give it bytes that are at hand, not a network read.
     */
    public CompletableFuture<ScoredPhoto> submit(PhotoSource source) {
        return admit(image -> pipeline.prepare(source, image, 0));
    }

    /** Scores an already preprocessed image: (C, H, W) f32 in the spec's input layout (NCHW or NHWC), copied now. */
    public CompletableFuture<ScoredPhoto> submit(MemorySegment preprocessed) {
        if (preprocessed.byteSize() != imageBytes) {
            throw new IllegalArgumentException("a preprocessed image is " + imageBytes + " bytes for " + model.spec().input()
                    + ", got " + preprocessed.byteSize());
        }
        byte[] copy = preprocessed.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        return admit(image -> {
            MemorySegment.copy(MemorySegment.ofArray(copy), 0, image, 0, imageBytes);
            return PreparedPhoto.preprocessed("image", 0);
        });
    }

    public ScorerMetrics.Snapshot metrics() {
        return metrics.snapshot(options.capacity() - admitted.availablePermits());
    }

    public Options options() {
        return options;
    }

    /** Requests the scorer would admit now: a server checks it before reading an upload (0: answer 503 at once). */
    public int freeSlots() {
        return closed ? 0 : admitted.availablePermits();
    }

    /** Admits a request whose {@code work} prepares it into slot 0 of a free image buffer, on a worker. */
    private CompletableFuture<ScoredPhoto> admit(Function<MemorySegment, PreparedPhoto> work) {
        if (closed) throw new IllegalStateException("scorer is closed");
        if (!admitted.tryAcquire()) {
            metrics.rejected();
            throw new ScorerOverloadedException("scorer is at capacity (" + options.capacity() + " requests); retry later");
        }
        metrics.accepted();
        long submitted = System.nanoTime();
        CompletableFuture<ScoredPhoto> result = new CompletableFuture<>();
        result.whenComplete((r, e) -> {
            admitted.release();
            if (e != null) metrics.failed();
            else metrics.completed((System.nanoTime() - submitted) / 1e6);
        });
        try {
            decoders.execute(() -> {
                // A permit was taken for this request, so a buffer is free.
                MemorySegment image = freeImages.poll();
                PreparedPhoto p;
                try {
                    p = work.apply(image);
                } catch (RuntimeException e) {
                    p = PreparedPhoto.failed("image", e);
                }
                if (p.failure() == null) {
                    ready.add(new Request(image, p, result, submitted));
                    news.release();
                    return;
                }
                freeImages.add(image);
                result.completeExceptionally(p.failure() instanceof ImageException || p.failure() instanceof IllegalArgumentException
                        ? p.failure() : new ImageException("cannot prepare the image: " + p.failure(), p.failure()));
            });
            news.release();
        } catch (java.util.concurrent.RejectedExecutionException e) {
            result.completeExceptionally(new IllegalStateException("scorer is closed"));
        }
        return result;
    }

    private void batchLoop() {
        List<Request> group = new ArrayList<>(options.maxBatch());
        boolean stopping = false;
        long deadline = 0;
        try {
            while (true) {
                // Once closing, the workers are done: only requests already prepared are left.
                Request next = stopping ? ready.poll() : await(group.isEmpty(), deadline);
                if (next == STOP) {
                    stopping = true;
                    continue;
                }
                if (next != null) {
                    if (group.isEmpty()) deadline = System.nanoTime() + options.maxDelay().toNanos();
                    group.add(next);
                    if (group.size() < options.maxBatch()) continue;
                }
                if (group.isEmpty()) return; // stopping, and nothing left
                runGroup(group);
                group.clear();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The next prepared request, or null once {@code deadline} passes (unless {@code forever}); until one is
     * ready, runs queued preparations here instead of waiting for a worker to get to them (so a batch may
     * start up to one photo's preparation after its deadline).
     */
    private Request await(boolean forever, long deadline) throws InterruptedException {
        while (true) {
            Request r = ready.poll();
            if (r != null) return r;
            if (!forever && deadline - System.nanoTime() <= 0) return null;
            Runnable job = toPrepare.poll();
            if (job != null) {
                job.run();
                metrics.preparedByInference();
                continue;
            }
            if (forever) {
                news.acquire();
            } else {
                news.tryAcquire(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
            }
        }
    }

    private void runGroup(List<Request> group) {
        List<PreparedPhoto> photos = new ArrayList<>(group.size());
        for (int i = 0; i < group.size(); i++) {
            MemorySegment.copy(group.get(i).image(), 0, batch, i * imageBytes, imageBytes);
            freeImages.add(group.get(i).image());
            photos.add(group.get(i).photo().inSlot(i));
        }
        metrics.batch(group.size());
        try {
            List<ScoredPhoto> scored = pipeline.score(session, batch, photos);
            for (int i = 0; i < group.size(); i++) group.get(i).result().complete(scored.get(i));
        } catch (RuntimeException e) {
            for (Request q : group) q.result().completeExceptionally(e);
        }
    }

    /** Stops accepting, answers every request already accepted, then frees native memory. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        decoders.shutdown();
        try {
            decoders.awaitTermination(1, TimeUnit.MINUTES); // every accepted photo is now queued, failed, or being prepared by the batcher
            ready.add(STOP);
            news.release();
            batcher.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        session.close();
        pipeline.close();
        arena.close();
    }
}
