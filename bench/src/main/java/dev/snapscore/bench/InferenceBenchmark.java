package dev.snapscore.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Batches per second of each engine on the same ONNX model, thread count and inputs (images/s = score × batch). */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class InferenceBenchmark {
    @Param({"snapscore", "snapscore-winograd", "snapscore-auto", "snapscore-bf16", "snapscore-int8", "onnxruntime", "onnxruntime-int8", "opencv-dnn"})
    public String engine;

    /** A model directory (model.onnx, and snapscore's format); the runner sets it. */
    @Param({"models/vgg-mini"})
    public String model;

    /** The same model quantised to int8 (snapscore's format), for the snapscore-int8 rows; the runner sets it. */
    @Param({""})
    public String int8Model;

    @Param({"1", "8", "32"})
    public int batch;

    @Param({"2"})
    public int threads;

    private InferenceEngine runner;

    @Setup(Level.Trial)
    public void load() throws Exception {
        runner = InferenceEngine.open(engine, Path.of(model), Path.of(int8Model), batch, threads);
    }

    @Benchmark
    public Object infer() throws Exception {
        return runner.infer();
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        runner.close();
    }
}
