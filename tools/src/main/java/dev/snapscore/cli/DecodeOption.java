package dev.snapscore.cli;

import dev.snapscore.engine.image.DecodeOptions;
import picocli.CommandLine.Option;

/** {@code --exact-decode} and {@code --clean-resolution} for the verbs that read photos (README, "Photos"). */
final class DecodeOption {
    @Option(names = "--exact-decode", description = {"Decode every JPEG at its full size, as OpenCV's imread does (the reference). "
            + "Default: libjpeg decodes it at 1/2, 1/4 or 1/8 size, the smallest that still covers the model input "
            + "(and the face cascade's copy): 5x faster on 12 MP photos; the model input moves by about 0.5 of 0-255 "
            + "on average (at most ~20 at sharp colour edges), the logits by ~2-3%% of the largest."})
    boolean exactDecode;

    @Option(names = "--clean-resolution", paramLabel = "N", defaultValue = "640",
            description = {"Longest side in pixels of the copy the face cascade scans (scaled down by a power of "
                    + "--scale-factor); 0: the photo at full size, as the study did. The rule is a share of the "
                    + "photo's area, so decisions stay those of full resolution (face fractions within ~1%% on the "
                    + "photos measured) while a 12 MP photo is cleaned ~10x faster. Default: ${DEFAULT-VALUE}."})
    int cleanResolution;

    DecodeOptions options() {
        return new DecodeOptions(exactDecode, cleanResolution);
    }
}
