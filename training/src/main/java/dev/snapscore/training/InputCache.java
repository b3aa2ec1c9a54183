package dev.snapscore.training;

import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import dev.snapscore.training.data.Labelled;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

/**
 * Every photo of a data set as the engine's network input, (N, 3, size, size) f32, made once by the
 * engine's own decoder and preprocessor (in a child JVM, {@code snapscore preprocess}) and memory-mapped
 * here. Photos the engine cannot read are dropped and listed. Closing unmaps the file.
 */
public final class InputCache implements AutoCloseable {
    private final Labelled data;
    private final Weights mapped;
    private final MemorySegment inputs; // (N, 3, size, size) f32, row-major
    private final int size;
    private final Map<Path, String> unreadable;

    private InputCache(Labelled data, Weights mapped, MemorySegment inputs, int size, Map<Path, String> unreadable) {
        this.data = data;
        this.mapped = mapped;
        this.inputs = inputs;
        this.size = size;
        this.unreadable = unreadable;
    }

    /**
     * Preprocesses {@code data}'s photos, normalised as {@code preprocess} says (the exported spec's), into
     * {@code cacheDir/inputs.safetensors}.
     *
     * @throws IllegalArgumentException if no photo is readable
     */
    public static InputCache build(EngineCli engine, Labelled data, int size, Preprocess preprocess, Path cacheDir)
            throws IOException, InterruptedException {
        Files.createDirectories(cacheDir);
        Path list = cacheDir.resolve("inputs.txt"), file = cacheDir.resolve("inputs.safetensors");
        List<String> lines = new ArrayList<>();
        for (Path p : data.files()) {
            String s = p.toAbsolutePath().toString();
            if (s.contains("\n")) throw new IllegalArgumentException("file names with line breaks are not supported: " + p);
            lines.add(s);
        }
        Files.write(list, lines);
        String out = engine.runOrThrow("preprocess", "--list", list.toString(), "--out", file.toString(), "--size", Integer.toString(size),
                "--channel-order", preprocess.channelOrder(), "--mean", floats(preprocess.mean()), "--scale", floats(preprocess.scale()));
        Map<Path, String> unreadable = new TreeMap<>();
        java.util.Set<Integer> drop = new java.util.HashSet<>();
        for (String line : out.lines().toList()) {
            if (!line.startsWith("error\t")) continue;
            String[] parts = line.split("\t", 3);
            int index = Integer.parseInt(parts[1]) - 1;
            drop.add(index);
            unreadable.put(data.files().get(index), parts[2]);
        }
        if (drop.size() == data.size()) {
            throw new IllegalArgumentException("none of the " + data.size() + " images could be read; first: "
                    + unreadable.entrySet().iterator().next().getValue());
        }
        Weights mapped = Safetensors.read(file);
        try {
            Tensor all = mapped.get("input", data.size(), 3, size, size);
            long perImage = 3L * size * size * Float.BYTES;
            // Keep the readable images contiguous by index: a view per kept image would do too, but one
            // compacted copy keeps batch assembly a plain offset computation.
            MemorySegment kept = all.data();
            if (!drop.isEmpty()) {
                kept = mapped.arena().allocate(perImage * (data.size() - drop.size()), 64);
                for (int i = 0, k = 0; i < data.size(); i++) {
                    if (drop.contains(i)) continue;
                    MemorySegment.copy(all.data(), i * perImage, kept, (long) k++ * perImage, perImage);
                }
            }
            return new InputCache(data.without(drop), mapped, kept, size, unreadable);
        } catch (RuntimeException e) {
            mapped.close();
            throw e;
        }
    }

    /** The readable photos, in the order of the inputs. */
    public Labelled data() {
        return data;
    }

    /** Photos the engine could not read, with its reason. */
    public Map<Path, String> unreadable() {
        return unreadable;
    }

    public int size() {
        return size;
    }

    /** Copies image {@code index} into {@code dst} at {@code offset}: 3·size·size floats. */
    public void copy(int index, float[] dst, int offset) {
        int n = 3 * size * size;
        MemorySegment.copy(inputs, JAVA_FLOAT_UNALIGNED, (long) index * n * Float.BYTES, dst, offset, n);
    }

    @Override
    public void close() {
        mapped.close();
    }

    /** "a,b,c", each float exactly (Float.toString round-trips). */
    private static String floats(float[] v) {
        StringBuilder s = new StringBuilder();
        for (float f : v) s.append(s.isEmpty() ? "" : ",").append(f);
        return s.toString();
    }
}
