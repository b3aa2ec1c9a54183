package dev.snapscore.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A copy of a model directory whose last layer's bias is NaN, so that every output is NaN. */
public final class PoisonedModel {
    private PoisonedModel() {
    }

    /** Copies {@code model}'s spec.json and weights.safetensors into {@code dir}/broken with {@code tensor} set to NaN. */
    public static Path copyWithNaN(Path model, String tensor, Path dir) throws IOException {
        Path broken = Files.createDirectories(dir.resolve("broken"));
        for (String f : List.of("spec.json", "weights.safetensors")) Files.copy(model.resolve(f), broken.resolve(f));
        Path weights = broken.resolve("weights.safetensors");
        byte[] bytes = Files.readAllBytes(weights);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = (int) b.getLong(0);
        JsonNode header = new ObjectMapper().readTree(new String(bytes, 8, headerLength, StandardCharsets.UTF_8));
        JsonNode offsets = header.get(tensor).get("data_offsets");
        for (long at = offsets.get(0).asLong(); at < offsets.get(1).asLong(); at += 4) b.putFloat((int) (8 + headerLength + at), Float.NaN);
        Files.write(weights, bytes);
        return broken;
    }
}
