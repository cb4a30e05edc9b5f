package dev.fp4.nn.checkpoint;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The small, strict JSON subset a safetensors header uses: objects, arrays, strings and
 * non-negative integers. Parsed values are {@code Map<String, Object>} (insertion order),
 * {@code List<Object>}, {@link String} and {@link Long}. Rejected with {@link JsonException}:
 * fractions, exponents, signs, leading zeros, integers beyond 2^63−1, true/false/null, duplicate
 * keys, raw control characters in strings, bad escapes, lone surrogates, nesting deeper than
 * {@link #MAX_DEPTH}, and anything after the top-level value but whitespace.
 */
public final class Json {
    /** Deepest nesting accepted (a safetensors header needs 3). */
    public static final int MAX_DEPTH = 16;

    /** A malformed document; the message gives the character offset. */
    public static final class JsonException extends Exception {
        private static final long serialVersionUID = 1L;

        JsonException(String message) {
            super(message);
        }
    }

    private final String s;
    private int pos;

    private Json(String s) {
        this.s = s;
    }

    /** Parses one JSON value (of the supported subset) spanning the whole text. */
    public static Object parse(String text) throws JsonException {
        Json p = new Json(text);
        p.skipWs();
        Object v = p.value(0);
        p.skipWs();
        if (p.pos != text.length()) {
            throw p.error("unexpected content after the JSON value");
        }
        return v;
    }

    private JsonException error(String what) {
        return new JsonException(what + " at offset " + pos);
    }

    private void skipWs() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                pos++;
            } else {
                break;
            }
        }
    }

    private Object value(int depth) throws JsonException {
        if (depth > MAX_DEPTH) {
            throw error("nesting deeper than " + MAX_DEPTH);
        }
        if (pos >= s.length()) {
            throw error("unexpected end of JSON");
        }
        char c = s.charAt(pos);
        return switch (c) {
            case '{' -> object(depth);
            case '[' -> array(depth);
            case '"' -> string();
            default -> {
                if (c >= '0' && c <= '9') {
                    yield number();
                }
                throw error("unsupported JSON value starting with '" + c + "'");
            }
        };
    }

    private Map<String, Object> object(int depth) throws JsonException {
        pos++;
        Map<String, Object> m = new LinkedHashMap<>();
        skipWs();
        if (peek() == '}') {
            pos++;
            return m;
        }
        while (true) {
            skipWs();
            if (peek() != '"') {
                throw error("expected a string key");
            }
            String key = string();
            skipWs();
            expect(':');
            skipWs();
            Object v = value(depth + 1);
            if (m.containsKey(key)) {
                throw error("duplicate key \"" + key + "\"");
            }
            m.put(key, v);
            skipWs();
            char c = next();
            if (c == '}') {
                return m;
            }
            if (c != ',') {
                pos--;
                throw error("expected ',' or '}'");
            }
        }
    }

    private List<Object> array(int depth) throws JsonException {
        pos++;
        List<Object> a = new ArrayList<>();
        skipWs();
        if (peek() == ']') {
            pos++;
            return a;
        }
        while (true) {
            skipWs();
            a.add(value(depth + 1));
            skipWs();
            char c = next();
            if (c == ']') {
                return a;
            }
            if (c != ',') {
                pos--;
                throw error("expected ',' or ']'");
            }
        }
    }

    private char peek() throws JsonException {
        if (pos >= s.length()) {
            throw error("unexpected end of JSON");
        }
        return s.charAt(pos);
    }

    private char next() throws JsonException {
        char c = peek();
        pos++;
        return c;
    }

    private void expect(char c) throws JsonException {
        if (peek() != c) {
            throw error("expected '" + c + "'");
        }
        pos++;
    }

    private Long number() throws JsonException {
        int start = pos;
        while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') {
            pos++;
        }
        if (pos < s.length() && (s.charAt(pos) == '.' || s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
            throw error("only non-negative integers are supported");
        }
        String digits = s.substring(start, pos);
        if (digits.length() > 1 && digits.charAt(0) == '0') {
            pos = start;
            throw error("leading zero in number");
        }
        if (digits.length() > 19) {
            pos = start;
            throw error("integer too large");
        }
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            pos = start;
            throw error("integer too large");
        }
    }

    private String string() throws JsonException {
        pos++;                                          // opening quote
        StringBuilder b = new StringBuilder();
        while (true) {
            char c = next();
            if (c == '"') {
                break;
            }
            if (c < 0x20) {
                pos--;
                throw error("control character in string");
            }
            if (c == '\\') {
                char e = next();
                switch (e) {
                    case '"' -> b.append('"');
                    case '\\' -> b.append('\\');
                    case '/' -> b.append('/');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> b.append(hex4());
                    default -> {
                        pos--;
                        throw error("invalid escape '\\" + e + "'");
                    }
                }
            } else {
                b.append(c);
            }
        }
        String out = b.toString();
        for (int i = 0; i < out.length(); i++) {
            char c = out.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= out.length() || !Character.isLowSurrogate(out.charAt(i + 1))) {
                    throw error("lone surrogate in string");
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                throw error("lone surrogate in string");
            }
        }
        return out;
    }

    private char hex4() throws JsonException {
        if (pos + 4 > s.length()) {
            throw error("truncated \\u escape");
        }
        int v = 0;
        for (int i = 0; i < 4; i++) {
            int d = Character.digit(s.charAt(pos + i), 16);
            if (d < 0) {
                throw error("invalid \\u escape");
            }
            v = v * 16 + d;
        }
        pos += 4;
        return (char) v;
    }

    /** Appends {@code v} as a JSON string literal (escaping quotes, backslashes and control characters). */
    public static void writeString(StringBuilder out, String v) {
        out.append('"');
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    /**
     * Writes a value of the supported subset: {@code Map<String, ?>}, {@code List<?>}, String and
     * non-negative Long/Integer.
     */
    public static void write(StringBuilder out, Object v) {
        switch (v) {
            case String str -> writeString(out, str);
            case Long l when l >= 0 -> out.append(l.longValue());
            case Integer i when i >= 0 -> out.append(i.intValue());
            case Map<?, ?> m -> {
                out.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) {
                        out.append(',');
                    }
                    first = false;
                    writeString(out, (String) e.getKey());
                    out.append(':');
                    write(out, e.getValue());
                }
                out.append('}');
            }
            case List<?> l -> {
                out.append('[');
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) {
                        out.append(',');
                    }
                    write(out, l.get(i));
                }
                out.append(']');
            }
            default -> throw new IllegalArgumentException("cannot write " + v + " in the supported JSON subset");
        }
    }

    /** A JSON object of string values, e.g. safetensors metadata or a config, as text. */
    public static String writeStringMap(Map<String, String> map) {
        StringBuilder b = new StringBuilder();
        write(b, map);
        return b.toString();
    }

    /**
     * Parses a JSON object whose values are all strings.
     *
     * @throws JsonException when the text is not such an object
     */
    public static Map<String, String> parseStringMap(String text) throws JsonException {
        Object v = parse(text);
        if (!(v instanceof Map<?, ?> m)) {
            throw new JsonException("expected a JSON object of strings");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String sv)) {
                throw new JsonException("value of \"" + e.getKey() + "\" is not a string");
            }
            out.put((String) e.getKey(), sv);
        }
        return Collections.unmodifiableMap(out);
    }
}
