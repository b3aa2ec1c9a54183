package dev.snapscore.engine.format;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@link JsonTree} against {@link ObjectMapper#readTree}, the reference it stands in for at load time. */
class JsonTreeTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @Test
    void specsGiveReadTreesNodes() throws Exception {
        for (Path spec : List.of(Path.of("..", "models", "vgg-mini", "spec.json"),
                Path.of("src", "test", "resources", "fixtures", "models", "vgg-mini-nhwc", "spec.json"),
                Path.of("src", "test", "resources", "trained", "shapes10", "spec.json"))) {
            JsonNode want = MAPPER.readTree(spec.toFile()), got = JsonTree.read(spec);
            assertEquals(want, got, spec.toString());
            assertEquals(want, JsonTree.read(Files.readAllBytes(spec)), spec.toString());
        }
    }

    @Test
    void valuesOfEveryKindAreReadTreesNodes() throws Exception {
        String json = """
                {"int": 7, "negative": -2147483649, "big": 123456789012345678901234567890, "float": 1.5e-3,
                 "exact": 0.1, "true": true, "false": false, "null": null, "text": "é\\u00e9\\n",
                 "nested": [[], {}, [1, [2, {"a": [3]}]]], "twice": 1, "twice": "last wins"}
                """;
        JsonNode want = MAPPER.readTree(json), got = JsonTree.read(json.getBytes(StandardCharsets.UTF_8));
        assertEquals(want, got);
        for (String field : List.of("int", "negative", "big", "float")) {
            assertEquals(want.get(field).getClass(), got.get(field).getClass(), field + ": the same node type");
        }
        assertEquals("last wins", got.get("twice").asText());
        assertEquals(MissingNode.getInstance(), JsonTree.read(new byte[0]));
        assertEquals(MAPPER.readTree("[1, 2] trailing"), JsonTree.read("[1, 2] trailing".getBytes(StandardCharsets.UTF_8)),
                "content after the first value is ignored, as readTree does by default");
    }

    @Test
    void brokenJsonIsAParseErrorAsWithReadTree() {
        for (String broken : List.of("{\"a\": ", "{\"a\" 1}", "[1, 2", "{\"a\": tru}", "[".repeat(2000) + "]".repeat(2000))) {
            assertThrows(JsonProcessingException.class, () -> MAPPER.readTree(broken), broken);
            assertThrows(JsonProcessingException.class, () -> JsonTree.read(broken.getBytes(StandardCharsets.UTF_8)), broken);
        }
    }
}
