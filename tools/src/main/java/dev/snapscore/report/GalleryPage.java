package dev.snapscore.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The contact sheet's HTML: the page template ({@code gallery.html} beside this class: markup, style and script,
 * nothing fetched from elsewhere) with the title and the rows' JSON put in.
 */
final class GalleryPage {
    private static final String TITLE = "{{title}}", DATA = "{{data}}";
    private static final String TEMPLATE = load();

    private GalleryPage() {
    }

    static String render(String title, JsonNode data) {
        String json;
        try {
            json = new ObjectMapper().writeValueAsString(data);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a tree of plain values always serialises", e);
        }
        // Inside <script>, "</script>" or "<!--" in a file name would end the element early: '<' only occurs in
        // JSON strings, where \u003c is the same character.
        json = json.replace("<", "\\u003c");
        // Spliced by position, so a title or file name that reads "{{data}}" stays text.
        int t = TEMPLATE.indexOf(TITLE), d = TEMPLATE.indexOf(DATA);
        return TEMPLATE.substring(0, t) + escape(title) + TEMPLATE.substring(t + TITLE.length(), d) + json
                + TEMPLATE.substring(d + DATA.length());
    }

    static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    private static String load() {
        try (InputStream in = GalleryPage.class.getResourceAsStream("gallery.html")) {
            if (in == null) throw new IllegalStateException("gallery.html is missing from the jar");
            String t = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            int title = t.indexOf(TITLE), data = t.indexOf(DATA);
            if (title < 0 || data < title || t.indexOf(TITLE, title + 1) >= 0 || t.indexOf(DATA, data + 1) >= 0) {
                throw new IllegalStateException("gallery.html needs one " + TITLE + " and, after it, one " + DATA);
            }
            return t;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
