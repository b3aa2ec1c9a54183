package dev.snapscore.training.data;

import java.util.ArrayList;
import java.util.List;

/**
 * Like counts → classes by ascending edges: the class is the number of edges ≤ likes. The default edges
 * 1..9 give the original study's rule, class = min(likes, 9). Each class's value is its lowest like count,
 * so a model's expected score Σ pᵢ·valueᵢ reads in likes.
 */
public record Buckets(long[] edges) {
    public static final Buckets STUDY = new Buckets(new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9});

    public Buckets {
        edges = edges.clone();
        if (edges.length == 0) throw new IllegalArgumentException("bucket edges: give at least one, e.g. 1,2,5,10");
        for (int i = 0; i < edges.length; i++) {
            if (edges[i] < 1 || (i > 0 && edges[i] <= edges[i - 1])) {
                throw new IllegalArgumentException("bucket edges must be positive and strictly ascending, got " + java.util.Arrays.toString(edges));
            }
        }
    }

    public int classes() {
        return edges.length + 1;
    }

    public int classOf(long likes) {
        int c = 0;
        while (c < edges.length && likes >= edges[c]) c++;
        return c;
    }

    /** "0", "1", … for single-count buckets; "2-4" for ranges; "9+" for the last. */
    public List<String> labels() {
        List<String> labels = new ArrayList<>();
        for (int c = 0; c < classes(); c++) {
            long low = c == 0 ? 0 : edges[c - 1];
            if (c == edges.length) labels.add(low + "+");
            else if (edges[c] - 1 == low) labels.add(Long.toString(low));
            else labels.add(low + "-" + (edges[c] - 1));
        }
        return labels;
    }

    public List<Double> values() {
        List<Double> values = new ArrayList<>();
        for (int c = 0; c < classes(); c++) values.add((double) (c == 0 ? 0 : edges[c - 1]));
        return values;
    }
}
