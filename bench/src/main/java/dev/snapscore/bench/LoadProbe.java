package dev.snapscore.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.Precision;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.batch.BatchScorer;
import dev.snapscore.engine.format.SpecJson;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Photo;
import dev.snapscore.engine.image.Preprocessor;
import dev.snapscore.engine.photo.PhotoPipeline;
import dev.snapscore.engine.photo.ScoredPhoto;
import dev.snapscore.engine.runtime.PlanCache;
import dev.snapscore.engine.spec.ModelSpec;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * The child JVM of {@code snapscore bench --load}: one engine, measured from a cold start. It loads the
 * model, runs one preprocessed image, reads its peak and anonymous RSS, runs it warm, and then (when given a folder) scores every JPEG
 * in it end to end. Prints one line, {@value #MARKER} followed by a JSON object, for {@link LoadBench}.
 *
 * <p>Usage: {@code LoadProbe ENGINE MODEL_DIR THREADS CACHE_DIR [JPEG_DIR BATCH WORKERS]}, where ENGINE is
 * snapscore (the defaults), snapscore-direct, snapscore-winograd, snapscore-auto or snapscore-bf16 (MODEL_DIR in snapscore's format, its plan cache in
 * CACHE_DIR, or none if that is "-") or onnxruntime (MODEL_DIR/model.onnx).
 */
public final class LoadProbe {
    static final String MARKER = "@@loadprobe ";
    /** Warm runs after the first: an odd count, so the median is one of them. */
    static final int WARM_RUNS = 5;

    private LoadProbe() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4 && args.length != 7) {
            System.err.println("usage: LoadProbe snapscore|snapscore-direct|snapscore-winograd|snapscore-auto|snapscore-bf16|onnxruntime MODEL_DIR THREADS "
                    + "CACHE_DIR|- [JPEG_DIR BATCH WORKERS]");
            System.exit(2);
        }
        String engine = args[0];
        Path modelDir = Path.of(args[1]);
        int threads = Integer.parseInt(args[2]);
        ModelOptions cache = args[3].equals("-") ? ModelOptions.defaults().withCache(false)
                : ModelOptions.defaults().withCacheDir(Path.of(args[3]));
        ObjectNode out;
        long start = System.nanoTime();
        try (Probe probe = switch (engine) {
            case "snapscore" -> new SnapscoreProbe(modelDir, threads, cache);
            case "snapscore-direct" -> new SnapscoreProbe(modelDir, threads, cache.withConvolution(ConvolutionAlgorithm.DIRECT));
            case "snapscore-winograd" -> new SnapscoreProbe(modelDir, threads, cache.withConvolution(ConvolutionAlgorithm.WINOGRAD));
            case "snapscore-auto" -> new SnapscoreProbe(modelDir, threads, cache.withConvolution(ConvolutionAlgorithm.AUTO));
            case "snapscore-bf16" -> new SnapscoreProbe(modelDir, threads, cache.withPrecision(Precision.BF16));
            case "onnxruntime" -> new OrtProbe(modelDir, threads);
            default -> throw new IllegalArgumentException("unknown engine " + engine
                    + " (snapscore, snapscore-direct, snapscore-winograd, snapscore-auto, snapscore-bf16, onnxruntime)");
        }; Arena arena = Arena.ofConfined()) {
            long loaded = System.nanoTime();
            // Made outside the timings: in a fresh JVM its loop runs in the interpreter, which is no engine's cost.
            float[] x = InferenceEngine.randomImages(1, probe.imageElements());
            MemorySegment image = arena.allocate(x.length * 4L, 64);
            MemorySegment.copy(x, 0, image, JAVA_FLOAT, 0, x.length);
            long firstStart = System.nanoTime();
            probe.runOne(image);
            long first = System.nanoTime();
            // Jackson only after the timings: its first use is part of snapscore's load (spec.json), not ours to warm.
            out = new ObjectMapper().createObjectNode();
            out.put("firstResultAtEpochMs", System.currentTimeMillis());
            out.put("loadMs", (loaded - start) / 1e6);
            out.put("firstInferenceMs", (first - firstStart) / 1e6);
            out.put("peakRssMb", peakRssMb());
            out.put("anonRssMb", statusMb("RssAnon:"));
            out.put("cache", probe.cache());
            // Warm inferences of the same image, for "first vs warm": their best, and their median (a typical warm one).
            double[] warm = new double[WARM_RUNS];
            for (int i = 0; i < WARM_RUNS; i++) {
                long t = System.nanoTime();
                probe.runOne(image);
                warm[i] = (System.nanoTime() - t) / 1e6;
            }
            Arrays.sort(warm);
            out.put("warmInferenceMs", warm[0]);
            out.put("warmMedianMs", warm[WARM_RUNS / 2]);
            if (args.length == 7) {
                List<Path> jpegs;
                try (Stream<Path> files = Files.list(Path.of(args[4]))) {
                    jpegs = files.filter(f -> f.getFileName().toString().endsWith(".jpg")).sorted().toList();
                }
                if (jpegs.isEmpty()) throw new IllegalArgumentException("no .jpg files in " + args[4]);
                int batch = Integer.parseInt(args[5]), workers = Integer.parseInt(args[6]);
                // One untimed batch first: both engines build what a full batch needs, as a server would at start.
                probe.score(jpegs.subList(0, Math.min(batch, jpegs.size())), batch, workers);
                long t = System.nanoTime();
                int scored = probe.score(jpegs, batch, workers);
                double seconds = (System.nanoTime() - t) / 1e9;
                if (scored != jpegs.size()) {
                    throw new IllegalStateException("scored " + scored + " of " + jpegs.size() + " photos");
                }
                out.put("e2eImages", scored);
                out.put("e2eImagesPerSecond", scored / seconds);
                out.put("e2ePeakRssMb", peakRssMb());
            }
        }
        System.out.println(MARKER + out);
    }

    /** VmHWM, the process's peak resident set, from /proc/self/status (Linux); -1 where there is none. */
    static double peakRssMb() throws IOException {
        return statusMb("VmHWM:");
    }

    /** A field of /proc/self/status given in kB, in MB (Linux); -1 where there is none. */
    private static double statusMb(String field) throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.exists(status)) return -1;
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith(field)) {
                return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]) / 1024.0;
            }
        }
        return -1;
    }

    private interface Probe extends AutoCloseable {
        /** Floats in one preprocessed image. */
        int imageElements();

        /** One preprocessed image through the model. */
        void runOne(MemorySegment image) throws Exception;

        /** How the load used a plan cache: "hit", "miss", "partial" (some tensors rebuilt) or "off". */
        default String cache() {
            return "off";
        }

        /** Decodes, preprocesses and scores every photo, {@code batch} at a time; returns how many scored. */
        int score(List<Path> jpegs, int batch, int workers) throws Exception;

        @Override
        void close() throws OrtException;
    }

    /** snapscore: Model.load, a session and its {@code prepare(1)} are the load; the folder goes through BatchScorer, as `snapscore score` does. */
    private static final class SnapscoreProbe implements Probe {
        private final Model model;
        private final Session session;

        private final String cache;

        SnapscoreProbe(Path modelDir, int threads, ModelOptions options) {
            model = Model.load(modelDir, options.withThreads(threads));
            PlanCache.Report r = model.planCache();
            cache = r == null ? "off" : r.built() == 0 ? "hit" : r.mapped() == 0 ? "miss" : "partial";
            Session s = null;
            try {
                s = model.newSession(threads);
                s.prepare(1); // what score and serve do before their first photo: the model is then ready at full speed
            } finally {
                if (s == null) model.close();
            }
            session = s;
        }

        @Override
        public String cache() {
            return cache;
        }

        @Override
        public int imageElements() {
            return (int) model.spec().input().elements();
        }

        @Override
        public void runOne(MemorySegment image) {
            session.run(image, 1);
        }

        @Override
        public int score(List<Path> jpegs, int batch, int workers) throws IOException {
            AtomicInteger ok = new AtomicInteger();
            try (PhotoPipeline pipeline = PhotoPipeline.forModel(model.spec(), ImageDecoder.withDefaults(), DecodeOptions.DEFAULT, null)) {
                BatchScorer.run(session, pipeline, jpegs, new BatchScorer.Options(batch, workers), rows -> rows.forEach(r -> {
                    if (r.status() == ScoredPhoto.Status.OK) ok.incrementAndGet();
                }));
            }
            return ok.get();
        }

        @Override
        public void close() {
            session.close();
            model.close();
        }
    }

    /**
     * ONNX Runtime with {@link OnnxRuntimeEngine}'s settings; photos are decoded and preprocessed by the
     * engine's own OpenCV front end on {@code workers} threads ahead of inference, as BatchScorer does.
     */
    private static final class OrtProbe implements Probe {
        private final OrtEnvironment env = OrtEnvironment.getEnvironment();
        private final OrtSession.SessionOptions options;
        private final OrtSession session;
        private final String inputName;
        private final Path modelDir;

        OrtProbe(Path modelDir, int threads) throws OrtException {
            this.modelDir = modelDir;
            options = OnnxRuntimeEngine.bestOptions(threads);
            session = env.createSession(modelDir.resolve("model.onnx").toString(), options);
            inputName = session.getInputNames().iterator().next();
        }

        @Override
        public int imageElements() {
            return 3 * 224 * 224;
        }

        @Override
        public void runOne(MemorySegment image) throws OrtException {
            infer(image, 1, new long[] {1, 3, 224, 224});
        }

        private void infer(MemorySegment input, int n, long[] shape) throws OrtException {
            shape[0] = n;
            var floats = input.asSlice(0, n * shape[1] * shape[2] * shape[3] * Float.BYTES).asByteBuffer()
                    .order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
            try (OnnxTensor tensor = OnnxTensor.createTensor(env, floats, shape);
                 OrtSession.Result r = session.run(Map.of(inputName, tensor))) {
                if (((float[][]) r.get(0).getValue()).length != n) throw new IllegalStateException("wrong output size");
            }
        }

        @Override
        public int score(List<Path> jpegs, int batch, int workers) throws Exception {
            ModelSpec spec = SpecJson.read(modelDir.resolve("spec.json")).spec();
            Preprocessor preprocessor = new Preprocessor(spec.input(), spec.preprocess());
            ImageDecoder decoder = ImageDecoder.withDefaults();
            long imageBytes = spec.input().elements() * Float.BYTES;
            long[] shape = spec.input().dims(batch);
            int window = 2 * batch + 2 * workers; // photos in flight, as in BatchScorer
            int scored = 0;
            ExecutorService pool = Executors.newFixedThreadPool(workers);
            try (Arena arena = Arena.ofShared()) {
                MemorySegment input = arena.allocate(batch * imageBytes, 64);
                ArrayDeque<MemorySegment> free = new ArrayDeque<>(); // one buffer per photo in flight
                for (int i = 0; i < window; i++) free.add(arena.allocate(imageBytes, 64));
                ArrayDeque<Future<MemorySegment>> ahead = new ArrayDeque<>();
                int next = 0, inBatch = 0;
                while (next < jpegs.size() || !ahead.isEmpty()) {
                    while (next < jpegs.size() && ahead.size() < window) {
                        Path file = jpegs.get(next++);
                        MemorySegment image = free.removeFirst();
                        ahead.add(pool.submit(() -> {
                            try (Photo photo = decoder.read(file, DecodeOptions.DEFAULT, spec.input(), null)) {
                                preprocessor.write(photo.bgr(), image, 0);
                            }
                            return image;
                        }));
                    }
                    MemorySegment image = ahead.removeFirst().get();
                    MemorySegment.copy(image, 0, input, inBatch++ * imageBytes, imageBytes);
                    free.add(image);
                    if (inBatch == batch || (next == jpegs.size() && ahead.isEmpty())) {
                        infer(input, inBatch, shape);
                        scored += inBatch;
                        inBatch = 0;
                    }
                }
            } finally {
                pool.shutdownNow();
            }
            return scored;
        }

        @Override
        public void close() throws OrtException {
            session.close();
            options.close();
        }
    }
}
