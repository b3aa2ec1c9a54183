package dev.snapscore.engine.quantize;

import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.batch.ImageFiles;
import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.photo.PhotoPipeline;
import dev.snapscore.engine.photo.PhotoSource;
import dev.snapscore.engine.photo.PreparedPhoto;
import dev.snapscore.engine.photo.ScoredPhoto;
import dev.snapscore.engine.spec.ElementType;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Preprocessed inputs for calibrating or comparing models, f32 in native memory in the model's input layout
 * ((count, C, H, W) or (count, H, W, C)): photos run through the
 * model's own preprocessing, or tensors already preprocessed (safetensors files with an {@code input}
 * tensor, like a model's reference file).
 */
public final class InputSet implements AutoCloseable {
    private final Arena arena;
    private final MemorySegment images;
    private final int count;
    private final long imageBytes;

    private InputSet(Arena arena, MemorySegment images, int count, long imageBytes) {
        this.arena = arena;
        this.images = images;
        this.count = count;
        this.imageBytes = imageBytes;
    }

    /** Wraps {@code count} preprocessed images (copied), e.g. generated ones. */
    public static InputSet of(MemorySegment preprocessed, int count, ModelSpec spec) {
        long imageBytes = spec.input().elements() * Float.BYTES;
        if (count < 1 || preprocessed.byteSize() < count * imageBytes) {
            throw new IllegalArgumentException("need " + count + " images of " + imageBytes + " bytes, got "
                    + preprocessed.byteSize() + " bytes");
        }
        Arena arena = Arena.ofShared();
        MemorySegment copy = arena.allocate(count * imageBytes, 64).copyFrom(preprocessed.asSlice(0, count * imageBytes));
        return new InputSet(arena, copy, count, imageBytes);
    }

    /**
     * Reads up to {@code limit} inputs from {@code dir}: every image file (decoded and preprocessed as
     * {@code spec} says) and every {@code .safetensors} file's {@code input} tensor, in name order.
     * Files that cannot be read are reported to {@code skipped} and left out.
     *
     * @throws IllegalArgumentException if the folder is missing or yields no usable input
     */
    public static InputSet read(Path dir, ModelSpec spec, int limit, Consumer<String> skipped) throws IOException {
        if (limit < 1) throw new IllegalArgumentException("the number of inputs must be >= 1, got " + limit);
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("input folder " + dir + " does not exist or is not a folder");
        List<Path> tensorFiles;
        try (Stream<Path> files = Files.walk(dir)) {
            tensorFiles = files.filter(f -> Files.isRegularFile(f) && f.toString().endsWith(".safetensors")).sorted().toList();
        }
        List<Path> photos = ImageFiles.list(List.of(dir), null);
        if (tensorFiles.isEmpty() && photos.isEmpty()) {
            throw new IllegalArgumentException("input folder " + dir + " holds no images ("
                    + String.join(", ", ImageFiles.EXTENSIONS) + ") and no .safetensors input tensors");
        }
        long imageBytes = spec.input().elements() * Float.BYTES;
        long[] perImage = Arrays.copyOfRange(spec.input().dims(1), 1, 4); // in the model's layout
        List<Weights> usable = new ArrayList<>();
        Arena arena = Arena.ofShared();
        try {
            long rows = 0;
            for (Path f : tensorFiles) {
                try {
                    Weights w = Safetensors.read(f);
                    Tensor t = w.tensors().get("input");
                    if (t == null || t.type() != ElementType.F32 || t.rank() != 4
                            || !Arrays.equals(Arrays.copyOfRange(t.shape(), 1, 4), perImage)) {
                        w.close();
                        skipped.accept(f + ": no f32 'input' tensor of shape (n, " + perImage[0] + ", " + perImage[1]
                                + ", " + perImage[2] + ")");
                        continue;
                    }
                    usable.add(w);
                    rows += t.dim(0);
                } catch (ModelFormatException e) {
                    skipped.accept(e.getMessage());
                }
            }
            // One buffer for everything, filled in place: tensors copied, photos preprocessed straight into it.
            int capacity = (int) Math.min(Math.min(limit, rows + photos.size()), Integer.MAX_VALUE / 2);
            MemorySegment images = arena.allocate(Math.max(capacity, 1) * imageBytes, 64);
            int count = 0;
            for (Weights w : usable) {
                Tensor t = w.tensors().get("input");
                int take = (int) Math.min(t.dim(0), capacity - count);
                MemorySegment.copy(t.data(), 0, images, count * imageBytes, take * imageBytes);
                count += take;
            }
            // Through the photo pipeline `score` uses, with its default decoding, so calibration sees the inputs
            // scoring will.
            try (PhotoPipeline pipeline = PhotoPipeline.forModel(spec, ImageDecoder.withDefaults(), DecodeOptions.DEFAULT, null)) {
                for (Path photo : photos) {
                    if (count >= capacity) break;
                    PreparedPhoto prepared = pipeline.prepare(PhotoSource.of(photo), images, count);
                    if (prepared.status() == ScoredPhoto.Status.OK) count++;
                    else if (prepared.failure() instanceof ImageException) skipped.accept(prepared.error());
                    else throw prepared.failure();
                }
            }
            if (count == 0) {
                throw new IllegalArgumentException("input folder " + dir + ": none of its "
                        + (photos.size() + tensorFiles.size()) + " files could be used (see the messages above)");
            }
            return new InputSet(arena, images.asSlice(0, count * imageBytes), count, imageBytes);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        } finally {
            usable.forEach(Weights::close);
        }
    }

    public int count() {
        return count;
    }

    /** Images {@code first .. first+n-1}, f32 in the model's input layout, native and aligned. */
    public MemorySegment slice(int first, int n) {
        return images.asSlice(first * imageBytes, n * imageBytes);
    }

    @Override
    public void close() {
        arena.close();
    }
}
