package dev.snapscore.cli;

import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.snapscore.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The verbs as a user runs them, on the bundled model (models/vgg-mini at the repository root). */
class CliTest {
    private static final ModelOptions DIRECT = ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.DIRECT);
    private static final Path BUNDLED = Path.of("..", "models", "vgg-mini");


    @Test
    void helpListsTheVerbs() {
        CliRun r = run("--help");
        assertEquals(0, r.code());
        for (String verb : new String[] {"verify", "convert", "generate"}) assertTrue(r.out().contains(verb), r.out());
    }

    /**
     * A command names its verb, and only that verb's options are built; help and mistakes see every verb, so help
     * lists them and picocli can suggest one.
     */
    @Test
    void onlyTheNamedVerbIsBuiltAndEveryVerbForHelpOrAMistake() {
        assertEquals(List.of(ScoreCommand.class), SnapscoreCli.verbsFor("score", "--model", "m", "dir"));
        assertEquals(List.of(ReportCommand.class), SnapscoreCli.verbsFor("report", "--help"));
        int all = SnapscoreCli.verbsFor().size();
        assertTrue(all > 10, "every verb: " + all);
        for (String[] args : new String[][] {{"help", "score"}, {"--help"}, {"-V"}, {"scor"}, {"--model", "m", "score"}}) {
            assertEquals(all, SnapscoreCli.verbsFor(args).size(), String.join(" ", args));
        }
        CliRun help = run("help", "score");
        assertEquals(0, help.code(), help.err());
        assertTrue(help.out().contains("Usage: snapscore score"), help.out());
        CliRun typo = run("scor");
        assertEquals(2, typo.code());
        assertTrue(typo.err().contains("Did you mean: snapscore score"), typo.err());
        CliRun verb = run("inspect", "--help");
        assertEquals(0, verb.code(), verb.err());
        assertTrue(verb.out().contains("Usage: snapscore inspect"), verb.out());
    }

    @Test
    void verifyPassesWithinToleranceAndFailsBeyondIt() {
        CliRun pass = run("verify", "--model", BUNDLED.toString(), "--reference", BUNDLED.resolve("io.safetensors").toString());
        assertEquals(0, pass.code(), pass.out() + pass.err());
        String last = pass.out().strip().lines().reduce((a, b) -> b).orElseThrow();
        assertTrue(last.startsWith("max_abs_diff="), last);
        double diff = Double.parseDouble(last.substring("max_abs_diff=".length()));
        assertTrue(diff > 0 && diff < 1e-3, "ONNX Runtime and oneDNN round differently, slightly: " + diff);

        CliRun fail = run("verify", "--model", BUNDLED.resolve("model.onnx").toString(), "--reference",
                BUNDLED.resolve("io.safetensors").toString(), "--tolerance", "1e-9");
        assertEquals(1, fail.code(), fail.out() + fail.err());
        assertTrue(fail.out().contains("FAIL"));
    }

    /**
     * --cache-dir holds the plan file the first run writes and the second maps (same result, auto's choices
     * included); --no-cache writes none.
     */
    @Test
    void verifyWritesThePlanCacheWhereToldAndNoneWithNoCache(@TempDir Path dir) throws Exception {
        Path cache = dir.resolve("cache"), none = dir.resolve("none");
        String[] verify = {"verify", "--model", BUNDLED.toString(), "--reference", BUNDLED.resolve("io.safetensors").toString()};
        CliRun first = run(concat(verify, "--cache-dir", cache.toString()));
        assertEquals(0, first.code(), first.out() + first.err());
        List<Path> plans;
        try (var files = Files.list(cache)) {
            plans = files.filter(f -> f.getFileName().toString().endsWith(".plan")).toList();
        }
        assertEquals(1, plans.size(), "one plan file in " + cache);
        long written = Files.getLastModifiedTime(plans.getFirst()).toMillis();
        CliRun second = run(concat(verify, "--cache-dir", cache.toString()));
        assertEquals(0, second.code(), second.out() + second.err());
        assertEquals(lastLine(first), lastLine(second), "the mapped plan computes what the built one did");
        assertEquals(written, Files.getLastModifiedTime(plans.getFirst()).toMillis(), "a hit does not rewrite the file");

        // Without the cache auto times its layers again and may choose otherwise (within about 1e-5 of the logits'
        // size), so only within verify's tolerance of the reference, as exit 0 says.
        CliRun off = run(concat(verify, "--no-cache", "--cache-dir", none.toString()));
        assertEquals(0, off.code(), off.out() + off.err());
        assertTrue(Files.notExists(none), "--no-cache writes nothing");
    }

    /** verify's last line, max_abs_diff=… (the lines above it include a time). */
    private static String lastLine(CliRun r) {
        return r.out().strip().lines().reduce((a, b) -> b).orElseThrow();
    }

    private static String[] concat(String[] a, String... b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    /** A tf2onnx model's NHWC input: the reference input is [N, H, W, C], as the model takes it. */
    @Test
    void verifyReadsAnNhwcModelsReferenceInputAsNhwc(@TempDir Path dir) throws Exception {
        Path fixtures = Path.of("..", "engine", "src", "test", "resources", "onnx-exporters");
        Path reference = dir.resolve("ref.safetensors");
        try (Weights inputs = Safetensors.read(fixtures.resolve("inputs.safetensors"));
             Weights outputs = Safetensors.read(fixtures.resolve("keras-vgg16-nhwc-op13.io.safetensors"))) {
            Tensor nhwc = inputs.tensors().get("nhwc"), probs = outputs.tensors().get("output");
            Safetensors.write(reference, List.of(new Tensor("input", nhwc.shape(), nhwc.data()), new Tensor("probs", probs.shape(), probs.data())));
        }
        CliRun r = run("verify", "--model", fixtures.resolve("keras-vgg16-nhwc-op13.onnx").toString(), "--reference", reference.toString(),
                "--output", "probs", "--tolerance", "1e-5");
        assertEquals(0, r.code(), r.out() + r.err());
    }

    @Test
    void verifyGivesExitCodeTwoOnBadInput(@TempDir Path dir) throws Exception {
        CliRun missing = run("verify", "--model", dir.resolve("none").toString(), "--reference", BUNDLED.resolve("io.safetensors").toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("no such model"), missing.err());
        CliRun wrongName = run("verify", "--model", BUNDLED.toString(), "--reference", BUNDLED.resolve("io.safetensors").toString(),
                "--input", "pixels");
        assertEquals(2, wrongName.code());
        assertTrue(wrongName.err().contains("no tensor 'pixels'"), wrongName.err());
        CliRun wrongShape = run("verify", "--model", BUNDLED.toString(), "--reference", BUNDLED.resolve("io.safetensors").toString(),
                "--output", "input");
        assertEquals(2, wrongShape.code());
        assertEquals(2, run("verify", "--model").code(), "picocli's usage error");
        Path garbage = Files.writeString(dir.resolve("ref.safetensors"), "garbage!garbage!");
        assertEquals(2, run("verify", "--model", BUNDLED.toString(), "--reference", garbage.toString()).code());
    }

    /** ONNX → our format → the same logits, bit for bit (same weights, same primitives: direct, as auto's timing may differ). */
    @Test
    void convertRoundTripGivesIdenticalLogits(@TempDir Path dir) {
        Path out = dir.resolve("converted");
        CliRun r = run("convert", BUNDLED.resolve("model.onnx").toString(), out.toString(), "--labels", "a,b,c,d,e,f,g,h,i,j");
        assertEquals(0, r.code(), r.err());
        try (Weights io = Safetensors.read(BUNDLED.resolve("io.safetensors"));
             Model onnx = Model.load(BUNDLED.resolve("model.onnx"), DIRECT); Session a = onnx.newSession();
             Model converted = Model.load(out, DIRECT); Session b = converted.newSession()) {
            var input = io.tensors().get("input").data();
            assertArrayEquals(a.run(input, 8).logits(), b.run(input, 8).logits());
            assertEquals("c", converted.spec().labels().get(2));
        }
        CliRun again = run("convert", BUNDLED.resolve("model.onnx").toString(), out.toString());
        assertEquals(2, again.code(), "refuses to overwrite without --force");
        assertTrue(again.err().contains("--force"), again.err());
    }

    /**
     * bf16 storage halves the weights file; against ONNX Runtime's reference logits of the f32 model the top-1 holds and
     * the logits move by bf16's rounding (measured max 0.086 on logits of this random model; the engine's own tests
     * bound the relative error), and converting back widens the file again.
     */
    @Test
    void convertStoresBf16WeightsAtHalfTheSize(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("bf16");
        CliRun r = run("convert", "--precision", "bf16", BUNDLED.toString(), out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("(bf16)"), r.out());
        long f32 = Files.size(BUNDLED.resolve("weights.safetensors")), bf16 = Files.size(out.resolve("weights.safetensors"));
        assertTrue(bf16 < 0.52 * f32, bf16 + " bytes against f32's " + f32);
        String reference = BUNDLED.resolve("io.safetensors").toString();
        CliRun close = run("verify", "--model", out.toString(), "--reference", reference, "--tolerance", "0.2");
        assertEquals(0, close.code(), close.out() + close.err());
        assertTrue(close.out().contains("top-1 agrees on 8 of 8"), close.out());
        double diff = Double.parseDouble(close.out().replaceAll("(?s).*max_abs_diff=(\\S+).*", "$1"));
        assertTrue(diff > 1e-4, "bf16 weights must move the logits: " + diff);
        CliRun inspect = run("inspect", out.toString());
        assertTrue(inspect.out().matches("(?s).*weights stored: bf16 \\d+\\.\\d MB, f32 0\\.0 MB.*"), inspect.out());
        CliRun back = run("convert", out.toString(), dir.resolve("f32").toString());
        assertEquals(0, back.code(), back.err());
        assertTrue(Files.size(dir.resolve("f32").resolve("weights.safetensors")) > 1.9 * bf16, "widened back to f32");
        assertEquals(2, run("convert", out.toString(), out.toString(), "--force").code(), "converting a model onto itself");
    }

    @Test
    void generateWritesALoadableModelAndOnnx(@TempDir Path dir) {
        Path out = dir.resolve("gen");
        CliRun r = run("generate", "--width", "0.125", "--head", "32,16", "--classes", "3", "--input-size", "32",
                "--flatten", "nhwc", "--seed", "5", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(out.resolve("model.onnx")));
        try (Model a = Model.load(out); Model b = Model.load(out.resolve("model.onnx"))) {
            assertEquals(3, a.spec().classes());
            assertEquals(a.spec().layers().stream().filter(l -> !(l instanceof dev.snapscore.engine.spec.Layer.Dropout)).toList(),
                    b.spec().layers());
        }
        assertEquals(2, run("generate", "--arch", "resnet50", dir.resolve("x").toString()).code());
        assertEquals(2, run("generate", "--flatten", "chw", dir.resolve("y").toString()).code());
    }

    /**
     * {@code generate --pool gap --input-layout nhwc}: Keras' transfer-learning shape, read back as such; its
     * photos scored by {@code score} (preprocessed interleaved) give the NCHW twin's rows.
     */
    @Test
    void generateWritesTheKerasShapeAndItScoresLikeItsNchwTwin(@TempDir Path dir) throws Exception {
        Path nhwc = dir.resolve("nhwc"), nchw = dir.resolve("nchw");
        for (Path out : new Path[] {nhwc, nchw}) {
            // --width's old name, still accepted (hidden from the help)
            CliRun r = run("generate", "--width-multiplier", "0.125", "--head", "16", "--classes", "3", "--input-size", "64",
                    "--pool", "gap", "--input-layout", out == nhwc ? "nhwc" : "nchw", "--seed", "5", out.toString());
            assertEquals(0, r.code(), r.err());
            assertTrue(Files.isRegularFile(out.resolve("model.onnx")));
        }
        try (Model m = Model.load(nhwc)) {
            assertEquals(dev.snapscore.engine.spec.InputLayout.NHWC, m.spec().input().layout());
            assertTrue(m.spec().layers().contains(new dev.snapscore.engine.spec.Layer.GlobalAveragePool()), m.spec().layers().toString());
            assertTrue(m.spec().name().contains("gap"), m.spec().name());
        }
        Path a = dir.resolve("nhwc.csv"), b = dir.resolve("nchw.csv");
        assertEquals(0, run("score", "--model", nhwc.toString(), "--out", a.toString(), "../samples").code());
        assertEquals(0, run("score", "--model", nchw.toString(), "--out", b.toString(), "../samples").code());
        var rows = Files.readAllLines(a);
        var twinRows = Files.readAllLines(b);
        assertEquals(4, rows.size(), "a header and the three samples: " + rows);
        assertEquals(twinRows.size(), rows.size());
        for (int i = 0; i < rows.size(); i++) {
            String[] x = rows.get(i).split(","), y = twinRows.get(i).split(",");
            assertEquals(y.length, x.length, rows.get(i));
            for (int k = 0; k < x.length; k++) {
                try {
                    assertEquals(Double.parseDouble(y[k]), Double.parseDouble(x[k]), 1e-5, rows.get(i) + " vs " + twinRows.get(i));
                } catch (NumberFormatException notANumber) {
                    assertEquals(y[k], x[k]);
                }
            }
        }
        assertEquals(2, run("generate", "--pool", "max", dir.resolve("z").toString()).code());
        assertEquals(2, run("generate", "--input-layout", "chw", dir.resolve("z").toString()).code());
    }

    /**
     * quantize → verify → compare → score, as a user chains them: the bundled model quantised on the
     * sample photos, then checked against ONNX Runtime's f32 reference output (top-1 and a loose
     * tolerance: int8 is not f32) and against the f32 model on the reference inputs.
     */
    @Test
    void quantizedModelWorksWithEveryVerb(@TempDir Path dir) throws Exception {
        Path int8 = dir.resolve("int8");
        CliRun q = run("quantize", "--model", BUNDLED.toString(), "--calibration", Path.of("..", "samples").toString(), int8.toString());
        assertEquals(0, q.code(), q.out() + q.err());
        assertTrue(q.out().contains("18 of 18 weighted layers in int8"), q.out());
        assertEquals(2, run("quantize", "--model", BUNDLED.toString(), "--calibration", "../samples", int8.toString()).code(),
                "refuses to overwrite without --force");

        CliRun verify = run("verify", "--model", int8.toString(), "--reference", BUNDLED.resolve("io.safetensors").toString(),
                "--output", "probs", "--tolerance", "0.1");
        assertEquals(0, verify.code(), verify.out() + verify.err());
        assertTrue(verify.out().contains("top-1 agrees on 8 of 8"), verify.out());

        Path inputs = Files.createDirectory(dir.resolve("inputs"));
        Files.copy(BUNDLED.resolve("io.safetensors"), inputs.resolve("io.safetensors"));
        CliRun compare = run("compare", BUNDLED.toString(), int8.toString(), "--inputs", inputs.toString(), "--min-agreement", "100");
        assertEquals(0, compare.code(), compare.out() + compare.err());
        assertTrue(compare.out().contains("top-1 agreement: 8 of 8"), compare.out());

        CliRun score = run("score", "--model", int8.toString(), "../samples", "--out", dir.resolve("s.csv").toString());
        assertEquals(0, score.code(), score.out() + score.err());
        assertEquals(4, Files.readAllLines(dir.resolve("s.csv")).size(), "header + one row per sample photo");
    }

    @Test
    void quantizeRejectsUnusableCalibrationFolders(@TempDir Path dir) throws Exception {
        Path empty = Files.createDirectory(dir.resolve("empty"));
        CliRun r = run("quantize", "--model", BUNDLED.toString(), "--calibration", empty.toString(), dir.resolve("out").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("holds no images"), r.err());
        Path junk = Files.createDirectory(dir.resolve("junk"));
        Files.writeString(junk.resolve("a.png"), "text, not a PNG");
        r = run("quantize", "--model", BUNDLED.toString(), "--calibration", junk.toString(), dir.resolve("out").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("skipped: ") && r.err().contains("could be used"), r.err());
        assertTrue(!Files.exists(dir.resolve("out")), "nothing written on failure");
    }
}
