package dev.snapscore.training;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

class Probe {
    @Test
    void probe() throws Exception {
        Path dir = Files.createTempDirectory("probe");
        SyntheticPhotos.writeFolders(dir.resolve("data"), 40, 1);
        long t = System.nanoTime();
        int code = TrainCommand.run(new PrintWriter(System.out, true), new PrintWriter(System.err, true),
                "--data", dir.resolve("data").toString(), "--width", "0.0625", "--head", "32,16", "--epochs", "4",
                "--batch", "16", "--lr", "1e-3", "--validation", "0.25", "--export", dir.resolve("model").toString(),
                "--checkpoints", dir.resolve("ck").toString());
        System.out.println("code " + code + " in " + (System.nanoTime() - t) / 1e9 + " s; dir " + dir);
    }
}
