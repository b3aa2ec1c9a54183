package dev.snapscore.cli;

import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.ModelOptions;
import picocli.CommandLine.Option;

/** {@code --convolution} for verbs that load a model: how its f32 3×3 convolutions run. */
final class ConvolutionOption {
    @Option(names = "--convolution", paramLabel = "direct|winograd", defaultValue = "direct",
            description = {"How f32 3x3 convolutions run: direct (oneDNN's), or winograd (F(4,3) on the wide layers, "
                    + "VGG16's conv3 to conv5: faster, logits within about 1e-5 of their size). Default: direct."})
    ConvolutionAlgorithm algorithm;

    /** The model options these flags ask for, the rest default. */
    ModelOptions options() {
        return ModelOptions.defaults().withConvolution(algorithm);
    }
}
