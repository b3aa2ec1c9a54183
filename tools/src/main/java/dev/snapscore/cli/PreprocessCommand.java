package dev.snapscore.cli;

import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Preprocessor;
import dev.snapscore.engine.photo.PhotoPipeline;
import dev.snapscore.engine.photo.PhotoSource;
import dev.snapscore.engine.photo.PreparedPhoto;
import dev.snapscore.engine.photo.ScoredPhoto;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.engine.spec.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * The engine's own decode and preprocessing, for another JVM: {@code training/} feeds Deeplearning4j with
 * these tensors, so a model is trained on exactly the inputs {@code score} will give it (no train/serve
 * skew). Hidden from the verb list: a plumbing verb, not a user's.
 */
@Command(name = "preprocess", hidden = true, mixinStandardHelpOptions = true,
        description = {"Decode and preprocess the images listed in a file (one path a line) exactly as `score` does,",
                "into one safetensors file holding `input` (N, 3, size, size) f32 in list order, normalised as",
                "--channel-order, --mean and --scale say (a model spec's preprocessing; Caffe's by default).",
                "Images that cannot be used are left zero and reported on stdout as: error<TAB>line<TAB>message."})
final class PreprocessCommand implements Callable<Integer> {
    @Option(names = "--list", required = true, description = "Text file: one image path per line.")
    Path list;

    @Option(names = "--out", required = true, description = "Safetensors file to write.")
    Path out;

    @Option(names = "--size", defaultValue = "224", description = "Input height and width. Default: ${DEFAULT-VALUE}.")
    int size;

    @Option(names = "--channel-order", defaultValue = "BGR", paramLabel = "BGR|RGB",
            description = "Channel order of the input. Default: ${DEFAULT-VALUE} (Caffe's).")
    String channelOrder;

    @Option(names = "--mean", split = ",", defaultValue = "103.939,116.779,123.68", paramLabel = "M",
            description = "Per-channel mean subtracted from 0..255 pixels, in --channel-order. Default: ${DEFAULT-VALUE} (Caffe's).")
    float[] mean;

    @Option(names = "--scale", split = ",", defaultValue = "1,1,1", paramLabel = "S",
            description = "Per-channel factor applied after the mean. Default: ${DEFAULT-VALUE}.")
    float[] scale;

    @Option(names = "--exact-decode", description = "Decode JPEGs at full size, as `score --exact-decode` does. Default: as `score` does.")
    boolean exactDecode;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (size < 32) throw new IllegalArgumentException("--size must be >= 32, got " + size);
        Preprocess preprocess = new Preprocess(channelOrder, mean, scale);
        List<String> files = Files.readAllLines(list);
        if (files.isEmpty()) throw new IllegalArgumentException(list + " lists no images");
        PrintWriter stdout = spec.commandLine().getOut();
        InputShape shape = new InputShape(3, size, size);
        long perImage = shape.elements() * Float.BYTES;
        // The batch lives in a scratch file mapping, not on the heap: thousands of images are gigabytes.
        Path scratch = Files.createTempFile(out.toAbsolutePath().getParent(), ".preprocess", ".tmp");
        int failed = 0;
        try (Arena arena = Arena.ofConfined();
             FileChannel channel = FileChannel.open(scratch, StandardOpenOption.READ, StandardOpenOption.WRITE);
             PhotoPipeline pipeline = new PhotoPipeline(ImageDecoder.withDefaults(), exactDecode ? DecodeOptions.EXACT : DecodeOptions.DEFAULT,
                     new Preprocessor(shape, preprocess), null)) {
            MemorySegment batch = channel.map(FileChannel.MapMode.READ_WRITE, 0, files.size() * perImage, arena);
            for (int i = 0; i < files.size(); i++) {
                PreparedPhoto photo = pipeline.prepare(PhotoSource.of(Path.of(files.get(i))), batch, i);
                if (photo.status() != ScoredPhoto.Status.OK) {
                    failed++;
                    RuntimeException e = photo.failure();
                    stdout.println("error\t" + (i + 1) + "\t" + (e.getMessage() == null ? e.toString() : e.getMessage()).replace('\n', ' '));
                }
            }
            Safetensors.write(out, List.of(new Tensor("input", new long[] {files.size(), 3, size, size}, batch)));
        } finally {
            Files.deleteIfExists(scratch);
        }
        stdout.printf("preprocessed %d of %d images into %s%n", files.size() - failed, files.size(), out);
        stdout.flush();
        return SnapscoreCli.OK;
    }
}
