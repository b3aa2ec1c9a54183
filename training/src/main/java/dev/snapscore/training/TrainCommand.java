package dev.snapscore.training;

import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.format.ModelFormats;
import dev.snapscore.engine.format.onnx.OnnxImporter;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.training.data.Buckets;
import dev.snapscore.training.data.FolderDataset;
import dev.snapscore.training.data.Labelled;
import dev.snapscore.training.data.PostsCsv;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code snapscore train}: DL4J trains a VGG16-family classifier; the engine's format comes out. */
@Command(name = "snapscore train", mixinStandardHelpOptions = true, sortOptions = false,
        version = "snapscore train (Deeplearning4j 1.0.0-M2.1, CPU)",
        description = {"Train VGG16 (with a width multiplier) plus a dense head with Deeplearning4j on",
                "labelled photos, and export it in snapscore's model format. Photos are decoded and",
                "preprocessed by the engine itself (OpenCV INTER_AREA to 224x224, then --preprocess's",
                "normalisation, which the exported spec carries), so training sees exactly what `score` sees.",
                "Exit codes: 0 done, 1 the export does not reproduce DL4J within --tolerance,",
                "2 bad input, 3 the model did not learn (validation accuracy not clearly above chance, or",
                "the training loss never fell): not exported unless --export-anyway, checkpoint kept."})
public final class TrainCommand implements Callable<Integer> {
    static final int OK = 0, EXPORT_MISMATCH = 1, BAD_INPUT = 2, NOT_LEARNED = 3;
    /** Peak learning rates chosen by measurement (README, Training): from scratch with batch norm; a frozen base. */
    static final double LR_SCRATCH = 1e-3, LR_FROZEN = 1e-3;

    static final class Source {
        @Option(names = "--data", paramLabel = "DIR", description = "A folder per class (e.g. DIR/selfie/, DIR/notselfie/).")
        Path folders;

        @Option(names = "--posts", paramLabel = "FILE.csv",
                description = "Posts table with columns file,likes,comments,age_seconds; class = like bucket.")
        Path posts;

        @Option(names = "--from-keras", paramLabel = "MODEL.h5",
                description = "No training: convert a Keras Sequential VGG model (conv, pool, flatten or global average pool, dense, dropout) to --export.")
        Path keras;
    }

    @ArgGroup(exclusive = true, multiplicity = "1", heading = "Data (one of):%n")
    Source source;

    @Option(names = "--images", paramLabel = "DIR", description = "With --posts: folder the file column is relative to. Default: the CSV's folder.")
    Path images;

    @Option(names = "--min-age", defaultValue = "2000", paramLabel = "SECONDS",
            description = "With --posts: drop posts younger than this (their counts have not settled). Default: ${DEFAULT-VALUE}.")
    long minAge;

    @Option(names = "--buckets", split = ",", paramLabel = "EDGE", defaultValue = "1,2,3,4,5,6,7,8,9",
            description = "With --posts: ascending like-count edges; class = number of edges <= likes. Default ${DEFAULT-VALUE}: min(likes, 9).")
    long[] buckets;

    @Option(names = "--width", defaultValue = "1.0", description = "VGG16 width multiplier (1.0 = VGG16), as `generate --width`. Default: ${DEFAULT-VALUE}.")
    double width;

    @Option(names = "--batch-norm", negatable = true,
            description = {"Batch normalisation after each convolution while training, folded into the convolutions at export",
                    "(the exported graph is the plain VGG). Default: on when the base trains from scratch, off with --init."})
    Boolean batchNorm;

    @Option(names = "--input-size", defaultValue = "224", paramLabel = "PIXELS",
            description = "Input height and width (224 is VGG16's; smaller trains faster, e.g. for trials). Default: ${DEFAULT-VALUE}.")
    int inputSize;

    @Option(names = "--head", split = ",", defaultValue = "2048,1024,512,64", paramLabel = "UNITS",
            description = "Hidden dense widths (ReLU, dropout after each). Default: ${DEFAULT-VALUE} (the original study's).")
    List<Integer> head;

    @Option(names = "--pool", defaultValue = "none", paramLabel = "none|gap",
            description = {"Between the conv base and the head: none (the last max-pool's map flattened, VGG16's) or gap",
                    "(a global average pool: Keras' VGG16(include_top=False) + GlobalAveragePooling2D). Default: ${DEFAULT-VALUE}."})
    ModelGenerator.Pool pool;

    @Option(names = "--dropout", paramLabel = "RATE",
            description = {"Dropout rate after each hidden dense layer. Default: 0 with batch norm (it regularises already, and",
                    "dropout slowed a small data set's few steps; measured), else 0.5 (the original study's)."})
    Double dropout;

    @Option(names = "--init", paramLabel = "MODEL",
            description = {"Initialise the convolution base from this model and freeze it; its conv widths replace --width.",
                    "A snapscore directory, an .onnx file (torchvision's VGGs as torch.onnx.export writes them, batch norm folded;",
                    "with --preprocess torchvision unless the file has the normalisation built in), or a Keras .h5 (model.save())."})
    Path init;

    @Option(names = "--preprocess", paramLabel = "caffe|torchvision",
            description = {"Input normalisation: caffe (BGR minus the ImageNet means, as Keras' and Caffe's VGG16) or torchvision",
                    "(RGB, ImageNet means and standard deviations, as torchvision's pretrained VGGs). Default: the --init",
                    "model's own when it has one (a snapscore model; an ONNX file with it built in), else caffe. A plain",
                    "torchvision ONNX export carries none: give --preprocess torchvision for it."})
    Normalisation preprocess;

    /** The named normalisations of {@code --preprocess}. */
    enum Normalisation {
        CAFFE(Preprocess.CAFFE), TORCHVISION(Preprocess.TORCHVISION);

        final Preprocess value;

        Normalisation(Preprocess value) {
            this.value = value;
        }
    }

    @Option(names = "--fine-tune-base", description = "With --init: train the base too instead of freezing it.")
    boolean fineTuneBase;

    @Option(names = "--epochs", defaultValue = "20", description = "Most epochs. Default: ${DEFAULT-VALUE}.")
    int epochs;

    @Option(names = "--batch", defaultValue = "16", description = "Images per step. Default: ${DEFAULT-VALUE}.")
    int batch;

    @Option(names = "--lr", paramLabel = "RATE",
            description = {"Adam's peak learning rate: a linear warm-up to it over --warmup-epochs, then a cosine decay to a",
                    "hundredth of it at the last epoch. Default: " + LR_SCRATCH + " from scratch, " + LR_FROZEN + " with a frozen base."})
    Double learningRate;

    @Option(names = "--warmup-epochs", defaultValue = "1", paramLabel = "EPOCHS",
            description = "Epochs of linear learning-rate warm-up (at most half of --epochs). Default: ${DEFAULT-VALUE}.")
    double warmupEpochs;

    @Option(names = "--weight-decay", defaultValue = "1e-4", description = "Weight decay (weights, not biases). Default: ${DEFAULT-VALUE}.")
    double weightDecay;

    @Option(names = "--validation", defaultValue = "0.2", description = "Fraction of each class held out for validation. Default: ${DEFAULT-VALUE}.")
    double validation;

    @Option(names = "--patience", defaultValue = "3", description = "Stop after this many epochs without a lower validation loss. Default: ${DEFAULT-VALUE}.")
    int patience;

    @Option(names = "--augment", description = "Training only: random horizontal flips and small crops (shifts of up to --crop pixels).")
    boolean augment;

    @Option(names = "--crop", defaultValue = "16", description = "With --augment: largest shift in pixels. Default: ${DEFAULT-VALUE}.")
    int crop;

    @Option(names = "--seed", defaultValue = "42", description = "Seed for initial weights, split, order and augmentation. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--checkpoints", paramLabel = "DIR",
            description = "Write best.zip and last.zip (DL4J models with their optimizer state) here after each epoch.")
    Path checkpoints;

    @Option(names = "--resume", paramLabel = "CHECKPOINT",
            description = {"Continue from a checkpoint (last.zip, or best.zip) of a run with the same data and network options:",
                    "its weights, Adam's state, the step and epoch counts; trains up to --epochs in all."})
    Path resume;

    @Option(names = "--cache", paramLabel = "DIR", description = "Where the preprocessed inputs go. Default: a temporary folder, deleted at the end.")
    Path cache;

    @Option(names = "--export", paramLabel = "OUTDIR", description = "Write the best model in snapscore's format here, then check the engine reproduces DL4J.")
    Path export;

    @Option(names = "--name", description = "Model name in the exported spec. Default: the export folder's name.")
    String name;

    @Option(names = "--tolerance", defaultValue = "1e-4", description = "Export check: largest allowed probability difference. Default: ${DEFAULT-VALUE}.")
    double tolerance;

    @Option(names = "--export-anyway", description = "Export even when the model did not learn (exit code 3 otherwise, nothing exported).")
    boolean exportAnyway;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs the command line and returns its exit code. */
    static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new TrainCommand()).setOut(out).setErr(err)
                .setCaseInsensitiveEnumValuesAllowed(true); // --pool gap
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (ex instanceof IllegalArgumentException || ex instanceof ModelFormatException || ex instanceof IOException
                    || ex instanceof UncheckedIOException) {
                commandLine.getErr().println("snapscore train: " + (ex.getMessage() == null ? ex : ex.getMessage()));
                return BAD_INPUT;
            }
            throw ex;
        });
        return cli.execute(args);
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (augment && crop < 0) throw new IllegalArgumentException("--crop must be >= 0, got " + crop);
        if (!(tolerance >= 0)) throw new IllegalArgumentException("--tolerance must be >= 0, got " + tolerance);
        if (!(warmupEpochs >= 0)) throw new IllegalArgumentException("--warmup-epochs must be >= 0, got " + warmupEpochs);
        if (learningRate != null && !(learningRate > 0)) throw new IllegalArgumentException("--lr must be > 0, got " + learningRate);
        boolean frozen = init != null && !fineTuneBase;
        boolean withBatchNorm = batchNorm != null ? batchNorm : init == null;
        if (withBatchNorm && init != null) {
            throw new IllegalArgumentException("--batch-norm is for a base trained from scratch; with --init the base keeps its own weights");
        }
        if (resume != null && !Files.isRegularFile(resume)) throw new IllegalArgumentException("no such checkpoint: " + resume);
        Trainer.Options options = new Trainer.Options(epochs, batch, validation, patience, augment, augment ? crop : 0, seed, checkpoints);
        if (source.keras != null) return convertKeras(out);
        long started = System.nanoTime();
        Labelled data = readData(out);
        EngineCli engine = EngineCli.locate();

        Init initModel = init == null ? null : readInit(init);
        LoadedModel base = initModel == null ? null : initModel.model();
        try {
            Preprocess normalisation = normalisation(initModel, out);
            double dropoutRate = dropout != null ? dropout : withBatchNorm ? 0 : 0.5;
            Architecture arch = base == null ? Architecture.vgg16(width, pool, head, dropoutRate, data.classes(), inputSize)
                    : initArchitecture(base.spec(), data.classes(), dropoutRate);
            Path cacheDir = cache != null ? cache : Files.createTempDirectory("snapscore-train");
            try (InputCache inputs = InputCache.build(engine, data, arch.input().height(), normalisation, cacheDir)) {
                double preprocessSeconds = (System.nanoTime() - started) / 1e9;
                out.printf("preprocessed %d images to %dx%d in %.1f s (the engine's decoder, in a child JVM)%n", data.size(),
                        arch.input().height(), arch.input().width(), preprocessSeconds);
                for (Map.Entry<Path, String> e : inputs.unreadable().entrySet()) {
                    out.println("unreadable image, skipped: " + e.getValue());
                }
                int trainImages = Trainer.split(inputs.data().labels(), inputs.data().classes(), validation, seed)[0].length;
                int stepsPerEpoch = Math.max(1, (trainImages + batch - 1) / batch), steps = stepsPerEpoch * epochs;
                int warmup = (int) Math.min(Math.round(warmupEpochs * stepsPerEpoch), steps / 2);
                double peak = learningRate != null ? learningRate : frozen ? LR_FROZEN : LR_SCRATCH;
                if (withBatchNorm) out.printf("batch norm: running statistics decay %.3f a step%n", Dl4jNetwork.bnDecay(stepsPerEpoch));
                MultiLayerNetwork net = Dl4jNetwork.build(arch, new Dl4jNetwork.Hyper(LearningRate.warmupCosine(peak, warmup, steps),
                        weightDecay, seed, frozen, withBatchNorm, Dl4jNetwork.bnDecay(stepsPerEpoch)));
                Trainer.Resumed resumed = null;
                if (resume != null) {
                    resumed = Trainer.restoreInto(net, resume);
                } else if (base != null) {
                    Dl4jNetwork.loadBase(net, arch, base.weights());
                }
                if (base != null) base.close();
                long[] params = Dl4jNetwork.parameterCounts(net);
                out.printf("network: %d conv layers%s, %shead %s, %d classes; %,d parameters, %,d trained%s%n", arch.convs().size(),
                        withBatchNorm ? " with batch norm" : "", arch.pool() == ModelGenerator.Pool.GAP ? "global average pool, " : "",
                        arch.head(), arch.classes(), params[0], params[1],
                        base == null ? "" : (fineTuneBase ? " (base from " : " (base frozen, from ") + init + ")");
                out.printf("learning rate: warm-up to %.2e over %d steps, cosine decay to %.2e at step %d (%d steps an epoch)%n",
                        peak, warmup, peak * LearningRate.FLOOR, steps, stepsPerEpoch);
                long trainStart = System.nanoTime();
                Trainer.Outcome outcome = new Trainer(options, out).train(net, inputs, resumed);
                double trainSeconds = (System.nanoTime() - trainStart) / 1e9;
                out.printf("best: epoch %d, val_loss %.4f, val_acc %.3f%n", outcome.best().epoch(), outcome.best().valLoss(),
                        outcome.best().valAccuracy());
                LearningCheck learning = LearningCheck.of(outcome, inputs.data().labels(), inputs.data().classes());
                if (!learning.learned()) {
                    out.println(learning.explain());
                    out.println("checkpoint kept: " + keepCheckpoint(net, outcome, inputs.data().classNames())
                            + " (--resume it with more --epochs, or add photos; --init from a pretrained model helps most)");
                    if (export == null || !exportAnyway) {
                        if (export != null) out.println("NOT exported to " + export + " (--export-anyway exports it regardless)");
                        return NOT_LEARNED;
                    }
                }
                out.printf("time: preprocessing %.1f s, training %.1f s (%d epochs)%n", preprocessSeconds, trainSeconds,
                        outcome.epochs().size() - (resumed == null ? 0 : resumed.state().epochs().size()));
                if (export == null) return OK;
                long exportStart = System.nanoTime();
                String modelName = name != null ? name : export.toAbsolutePath().getFileName().toString();
                ModelSpec exported = arch.spec(modelName, normalisation, inputs.data().classNames(), inputs.data().values());
                try (var weights = Dl4jNetwork.export(net, arch)) {
                    ModelExport.write(exported, weights, export);
                }
                int[] sample = Arrays.copyOf(outcome.validation(), Math.min(16, outcome.validation().length));
                var sampleInputs = ModelExport.stack(inputs, sample);
                ModelExport.Check check = ModelExport.verify(engine, ModelExport.Dl4jOutputs.of(net, sampleInputs), export,
                        sampleInputs, tolerance, cacheDir);
                out.printf("%s %s%s; engine vs DL4J on %d validation images: max abs diff %.3g in probabilities, %.3g in logits (tolerance %s, relative for logits); %.1f s%n",
                        check.passed() ? "exported" : "export FAILED its check:", export,
                        learning.learned() ? "" : " (a model that did not learn, as --export-anyway asked)", sample.length,
                        check.probabilities(), check.logits(), tolerance, (System.nanoTime() - exportStart) / 1e9);
                if (!check.passed()) out.println(check.output().strip());
                return check.passed() ? OK : EXPORT_MISMATCH;
            } finally {
                if (cache == null) deleteTree(cacheDir);
            }
        } finally {
            if (base != null) base.close();
        }
    }

    /** The best epoch's network, where --resume can find it: the --checkpoints folder's best.zip, else a new folder. */
    private Path keepCheckpoint(MultiLayerNetwork net, Trainer.Outcome outcome, List<String> classes) throws IOException {
        if (checkpoints != null && Files.isRegularFile(checkpoints.resolve("best.zip"))) return checkpoints.resolve("best.zip");
        Path file = Files.createTempDirectory("snapscore-train-checkpoint-").resolve("best.zip");
        List<Trainer.Epoch> upToBest = outcome.epochs().subList(0, outcome.epochs().indexOf(outcome.best()) + 1);
        Trainer.write(net, new Trainer.State(classes, upToBest, outcome.best().epoch(), 0), file);
        return file;
    }

    /**
     * An {@code --init} model and the normalisation it states: a snapscore model's spec, or what an ONNX file
     * has built in; null when the file carries none (a plain ONNX export, a Keras .h5).
     */
    private record Init(LoadedModel model, Preprocess stated) {
    }

    private static Init readInit(Path init) {
        String file = init.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (file.endsWith(".h5")) return new Init(KerasImport.read(init).model(), null);
        if (file.endsWith(".onnx")) {
            OnnxImporter.Imported onnx = OnnxImporter.readWithReport(init);
            return new Init(onnx.model(), onnx.report().preprocessBuiltIn() ? onnx.model().spec().preprocess() : null);
        }
        LoadedModel model = ModelFormats.read(init);
        return new Init(model, model.spec().preprocess());
    }

    /**
     * The training inputs' normalisation, which the export carries: the --init model's own when it states one
     * (--preprocess may only repeat it), else --preprocess, else Caffe's.
     */
    private Preprocess normalisation(Init initModel, PrintWriter out) {
        Preprocess chosen = preprocess == null ? null : preprocess.value;
        if (initModel != null && initModel.stated() != null) {
            if (chosen != null && !chosen.equals(initModel.stated())) {
                throw new IllegalArgumentException("--preprocess " + preprocess.name().toLowerCase(java.util.Locale.ROOT) + " contradicts "
                        + init + ", which states its own: " + initModel.stated());
            }
            out.printf("preprocessing: %s (%s's own)%n", initModel.stated(), init);
            return initModel.stated();
        }
        if (chosen != null) {
            out.printf("preprocessing: %s (--preprocess %s)%n", chosen, preprocess.name().toLowerCase(java.util.Locale.ROOT));
            return chosen;
        }
        out.printf("preprocessing: %s (caffe, the default%s)%n", Preprocess.CAFFE, initModel == null ? ""
                : "; " + init + " carries none: give --preprocess torchvision for a torchvision export");
        return Preprocess.CAFFE;
    }

    /** Keras .h5 → our format through DL4J's import, checked like a trained export: DL4J vs the engine. */
    private int convertKeras(PrintWriter out) throws IOException, InterruptedException {
        if (export == null) throw new IllegalArgumentException("--from-keras needs --export OUTDIR");
        EngineCli engine = EngineCli.locate();
        try (KerasImport.Imported k = KerasImport.read(source.keras)) {
            ModelSpec s = k.model().spec();
            ModelSpec named = new ModelSpec(name != null ? name : s.name(), s.input(), s.preprocess(), s.layers(), s.labels(), s.values());
            out.printf("keras: %s: %d layers, input %dx%d, flatten %s, %d classes%n", source.keras, s.layers().size(),
                    s.input().height(), s.input().width(),
                    s.layers().stream().filter(l -> l instanceof dev.snapscore.engine.spec.Layer.Flatten).findFirst().orElseThrow(), s.classes());
            ModelExport.write(named, k.model().weights(), export);
            Path scratch = Files.createTempDirectory("snapscore-keras");
            try {
                // Inputs in the engine's range (Caffe-preprocessed pixels are roughly ±128).
                org.nd4j.linalg.api.ndarray.INDArray inputs = org.nd4j.linalg.factory.Nd4j.rand(
                        org.nd4j.linalg.api.buffer.DataType.FLOAT, 4, 3, s.input().height(), s.input().width()).subi(0.5).muli(255);
                ModelExport.Check check = ModelExport.verify(engine, k.outputs(inputs), export, inputs, tolerance, scratch);
                out.printf("exported %s; engine vs DL4J's Keras import on 4 random inputs: max abs diff %.3g in probabilities, %.3g in logits (tolerance %s, relative for logits)%n",
                        export, check.probabilities(), check.logits(), tolerance);
                if (!check.passed()) out.println(check.output().strip());
                return check.passed() ? OK : EXPORT_MISMATCH;
            } finally {
                deleteTree(scratch);
            }
        }
    }

    private Labelled readData(PrintWriter out) {
        if (source.folders != null) {
            Labelled data = FolderDataset.read(source.folders);
            out.printf("data: %d images in %d classes %s%n", data.size(), data.classes(), data.classNames());
            return data;
        }
        Path root = images != null ? images : source.posts.toAbsolutePath().getParent();
        PostsCsv.Result r = PostsCsv.read(source.posts, root, minAge, new Buckets(buckets));
        out.println(r.summary(minAge));
        for (PostsCsv.Problem p : r.malformed()) out.println("malformed, dropped: " + source.posts + " " + p);
        for (PostsCsv.Problem p : r.missingFiles()) out.println("missing image, dropped: " + source.posts + " " + p);
        return r.data();
    }

    /**
     * The init model's conv base with this command's pool and head. An NHWC-input model's base is the same
     * network on NCHW inputs, which DL4J trains on.
     */
    private Architecture initArchitecture(ModelSpec s, int classes, double dropout) {
        var in = s.input();
        return new Architecture(new InputShape(in.channels(), in.height(), in.width()), Architecture.convBase(s), pool, head,
                dropout, classes);
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}
