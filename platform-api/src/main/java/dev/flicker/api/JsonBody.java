package dev.flicker.api;

import com.fasterxml.jackson.core.Base64Variant;
import com.fasterxml.jackson.core.Base64Variants;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/** Request bodies of the Lambda API: one JSON object each, read the same way by every resource. */
final class JsonBody {
    private JsonBody() {}

    /** The body as {@code type}: a JSON object (not {@code null}, an array or a scalar), or a 400 that says why. */
    static <T> T read(ObjectMapper json, byte[] body, Class<T> type) {
        if (body == null || body.length == 0) throw LambdaError.invalid("the request body is empty");
        try {
            T value = json.readerFor(type).without(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).readValue(body);
            if (value == null) throw LambdaError.invalid("the request body must be a JSON object, not null");
            return value;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw LambdaError.invalid("the request body is not valid: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw LambdaError.invalid("the request body cannot be read: " + e.getMessage());
        }
    }

    /** Standard base64, padded or not (what java.util.Base64 took before). */
    private static final Base64Variant BASE64 = Base64Variants.MIME_NO_LINEFEEDS
            .withReadPadding(Base64Variant.PaddingReadBehaviour.PADDING_ALLOWED);

    /**
     * Reads a body whose string at {@code zipPath} (for example Code.ZipFile) is a base64 zip: that string is
     * decoded into {@code zip} as it is parsed, never held whole; everything else becomes {@code type}.
     */
    static <T> T readWithZip(ObjectMapper json, InputStream body, List<String> zipPath, CodeStore.Upload zip, Class<T> type) {
        ObjectNode rest;
        try (JsonParser p = json.createParser(body)) {
            JsonToken first = p.nextToken();
            if (first == null) throw LambdaError.invalid("the request body is empty");
            if (first != JsonToken.START_OBJECT) throw LambdaError.invalid("the request body must be a JSON object");
            rest = readObject(p, zipPath, 0, zip);
        } catch (JsonProcessingException e) {
            throw LambdaError.invalid("the request body is not valid: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw LambdaError.invalid("the request body cannot be read: " + e.getMessage());
        }
        try {
            return json.readerFor(type).without(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).readValue(rest);
        } catch (IOException e) {
            throw LambdaError.invalid("the request body is not valid: " + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()));
        }
    }

    /** The object the parser is in, as a tree, except the string at {@code zipPath} (from {@code depth} on). */
    private static ObjectNode readObject(JsonParser p, List<String> zipPath, int depth, CodeStore.Upload zip) throws IOException {
        ObjectNode node = JsonNodeFactory.instance.objectNode();
        for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
            String name = p.currentName();
            JsonToken value = p.nextToken();
            boolean onPath = depth < zipPath.size() && name.equals(zipPath.get(depth));
            if (onPath && depth == zipPath.size() - 1 && value == JsonToken.VALUE_STRING) {
                zip.begin(String.join(".", zipPath));
                try {
                    p.readBinaryValue(BASE64, zip);
                } catch (JsonProcessingException e) {
                    throw LambdaError.invalid(String.join(".", zipPath) + " is not valid base64: " + e.getOriginalMessage());
                } catch (IllegalArgumentException e) { // how Jackson reports a character that is not base64
                    throw LambdaError.invalid(String.join(".", zipPath) + " is not valid base64: " + e.getMessage());
                }
            } else if (onPath && depth < zipPath.size() - 1 && value == JsonToken.START_OBJECT) {
                node.set(name, readObject(p, zipPath, depth + 1, zip));
            } else {
                JsonNode tree = p.readValueAsTree();
                node.set(name, tree);
            }
        }
        return node;
    }
}
