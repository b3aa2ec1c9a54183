package dev.snapscore.cli;

import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVPrinter;
import org.apache.commons.csv.CSVRecord;

import java.io.Closeable;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The record of every file {@code clean --move-rejected} moved, written before each move, so that
 * {@code clean --undo} can put every file back even after a crash. CSV: original, moved_to (absolute).
 */
final class MoveManifest implements Closeable {
    static final String FILE_NAME = "snapscore-moves.csv";
    private static final CSVFormat FORMAT = CSVFormat.DEFAULT.builder().setHeader("original", "moved_to").build();

    record Move(Path original, Path movedTo) {
    }

    private final CSVPrinter printer;

    private MoveManifest(CSVPrinter printer) {
        this.printer = printer;
    }

    /** Appends to the manifest in {@code dir}, creating it with a header. */
    static MoveManifest appendTo(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve(FILE_NAME);
        boolean fresh = !Files.exists(file) || Files.size(file) == 0;
        Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        CSVPrinter p = new CSVPrinter(w, fresh ? FORMAT : CSVFormat.DEFAULT);
        p.flush();
        return new MoveManifest(p);
    }

    /** Records a move about to happen, durably enough to survive the process being killed. */
    void record(Move move) throws IOException {
        printer.printRecord(move.original().toAbsolutePath().normalize(), move.movedTo().toAbsolutePath().normalize());
        printer.flush();
    }

    static List<Move> read(Path manifest) throws IOException {
        if (!Files.isRegularFile(manifest)) throw new IllegalArgumentException("no such manifest: " + manifest);
        List<Move> moves = new ArrayList<>();
        try (Reader r = Files.newBufferedReader(manifest, StandardCharsets.UTF_8);
             CSVParser parser = CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build().parse(r)) {
            if (!parser.getHeaderNames().equals(List.of("original", "moved_to"))) {
                throw new IllegalArgumentException(manifest + " is not a snapscore move manifest (columns " + parser.getHeaderNames() + ")");
            }
            for (CSVRecord rec : parser) {
                if (!rec.isConsistent()) {
                    throw new IllegalArgumentException(manifest + " line " + parser.getCurrentLineNumber() + " is malformed");
                }
                moves.add(new Move(Path.of(rec.get(0)), Path.of(rec.get(1))));
            }
        }
        return moves;
    }

    @Override
    public void close() throws IOException {
        printer.close(true);
    }
}
