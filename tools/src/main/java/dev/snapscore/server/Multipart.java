package dev.snapscore.server;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** The first part's bytes of a multipart/form-data body: enough for an upload form with one file field. */
final class Multipart {
    private Multipart() {
    }

    static byte[] firstPart(byte[] body, String contentType) {
        String boundary = null;
        for (String param : contentType.split(";")) {
            String p = param.trim();
            if (p.startsWith("boundary=")) boundary = p.substring(9).replace("\"", "");
        }
        if (boundary == null || boundary.isEmpty()) throw new IllegalArgumentException("multipart body without a boundary");
        byte[] delimiter = ("--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
        int start = indexOf(body, delimiter, 0);
        if (start < 0) throw new IllegalArgumentException("multipart body without its boundary");
        int headersEnd = indexOf(body, "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), start);
        if (headersEnd < 0) throw new IllegalArgumentException("multipart part without headers");
        int dataStart = headersEnd + 4;
        int end = indexOf(body, ("\r\n--" + boundary).getBytes(StandardCharsets.ISO_8859_1), dataStart);
        if (end < 0) throw new IllegalArgumentException("multipart part is not terminated (truncated upload?)");
        return Arrays.copyOfRange(body, dataStart, end);
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }
}
