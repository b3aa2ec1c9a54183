package dev.snapscore.cli;

import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Precision;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code --convolution}, {@code --precision} and the plan cache flags for verbs that load a model: how it is prepared and run. */
final class ModelFlags {
    @Option(names = "--convolution", paramLabel = "auto|direct|winograd", defaultValue = "auto",
            description = {"How f32 3x3 convolutions run: auto (each layer timed both ways, direct and Winograd, the "
                    + "faster kept: on VGG16 a first start takes seconds longer per batch size, and the plan cache "
                    + "keeps the choices for later starts), direct (oneDNN's), or winograd (F(4,3) on the wide layers, "
                    + "VGG16's conv3 to conv5). Winograd's logits are within about 1e-5 of direct's; int8 and bf16 "
                    + "layers always run directly. Default: auto."})
    ConvolutionAlgorithm algorithm;

    @Option(names = "--precision", paramLabel = "f32|bf16|auto", defaultValue = "f32",
            description = {"Arithmetic of an f32 model's layers: f32, bf16 (bf16 weights and activations, f32 sums and "
                    + "logits; needs AVX512_BF16 or AMX; convolutions then run directly), or auto (bf16 where the CPU "
                    + "has it). Default: f32."})
    Precision precision;

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = {"Folder of the plan cache (the model's prepared weights, memory-mapped by later loads: faster "
                    + "starts, weights shared between processes). Default: .snapscore-cache beside the model where that "
                    + "is writable, else $XDG_CACHE_HOME/snapscore (~/.cache/snapscore)."})
    Path cacheDir;

    @Option(names = "--no-cache", description = {"Prepare the weights at every load; neither read nor write a plan cache."})
    boolean noCache;

    @Option(names = "--cache-limit", paramLabel = "SIZE", converter = Size.class,
            description = {"Most bytes of plan files the cache folder keeps: after a load writes one, the least recently "
                    + "used others are removed until the rest fit (files unused for 30 days go anyway). Bytes, or "
                    + "binary K, M, G or T: 500M is 500 MiB. Default: 4G."})
    Long cacheLimit;

    /** The model options these flags ask for, the rest default. */
    ModelOptions options() {
        ModelOptions options = ModelOptions.defaults().withConvolution(algorithm).withPrecision(precision)
                .withCacheDir(cacheDir).withCache(!noCache);
        return cacheLimit == null ? options : options.withCacheLimit(cacheLimit);
    }

    /** f32 and direct convolutions, the reference arithmetic, with these flags' plan cache. */
    ModelOptions reference() {
        return options().withConvolution(ConvolutionAlgorithm.DIRECT).withPrecision(Precision.F32);
    }

    /** A size such as 4G, 500M, 500MiB, 500MB or 1048576: bytes, or a whole number of binary units (K = 1024 bytes). */
    static final class Size implements ITypeConverter<Long> {
        private static final Pattern SIZE = Pattern.compile("(\\d+)(?:([KMGT])(?:I?B)?|B)?");

        @Override
        public Long convert(String value) {
            Matcher m = SIZE.matcher(value.strip().toUpperCase(Locale.ROOT));
            if (!m.matches()) {
                throw new TypeConversionException("'" + value + "' is not a size: give bytes or a whole number of K, M, G or T, e.g. 500M or 4G");
            }
            long bytes;
            try {
                int shift = m.group(2) == null ? 0 : 10 * ("KMGT".indexOf(m.group(2)) + 1);
                bytes = Math.multiplyExact(Long.parseLong(m.group(1)), 1L << shift);
            } catch (ArithmeticException | NumberFormatException e) {
                throw new TypeConversionException("'" + value + "' is too large");
            }
            if (bytes == 0) throw new TypeConversionException("'" + value + "': the limit must be more than 0 bytes");
            return bytes;
        }
    }
}
