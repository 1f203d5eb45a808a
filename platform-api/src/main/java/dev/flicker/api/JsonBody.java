package dev.flicker.api;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;

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
}
