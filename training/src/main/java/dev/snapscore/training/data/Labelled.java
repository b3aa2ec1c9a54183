package dev.snapscore.training.data;

import java.nio.file.Path;
import java.util.List;

/**
 * Photos with a class each: {@code labels[i]} indexes {@code classNames} for {@code files.get(i)}.
 *
 * @param values ordinal value per class (e.g. the like-count bucket), or null when classes are unordered
 */
public record Labelled(List<Path> files, int[] labels, List<String> classNames, List<Double> values) {
    public Labelled {
        files = List.copyOf(files);
        labels = labels.clone();
        classNames = List.copyOf(classNames);
        values = values == null ? null : List.copyOf(values);
        if (files.size() != labels.length) {
            throw new IllegalArgumentException(files.size() + " files but " + labels.length + " labels");
        }
        if (values != null && values.size() != classNames.size()) {
            throw new IllegalArgumentException(values.size() + " values for " + classNames.size() + " classes");
        }
        for (int l : labels) {
            if (l < 0 || l >= classNames.size()) throw new IllegalArgumentException("label " + l + " outside 0.." + (classNames.size() - 1));
        }
    }

    public int size() {
        return files.size();
    }

    public int classes() {
        return classNames.size();
    }

    /** Images per class. */
    public int[] counts() {
        int[] counts = new int[classes()];
        for (int l : labels) counts[l]++;
        return counts;
    }

    /** The same photos without those at {@code drop} (positions in this list). */
    public Labelled without(java.util.Set<Integer> drop) {
        List<Path> keptFiles = new java.util.ArrayList<>();
        int[] keptLabels = new int[size() - drop.size()];
        for (int i = 0, k = 0; i < size(); i++) {
            if (drop.contains(i)) continue;
            keptFiles.add(files.get(i));
            keptLabels[k++] = labels[i];
        }
        return new Labelled(keptFiles, keptLabels, classNames, values);
    }
}
