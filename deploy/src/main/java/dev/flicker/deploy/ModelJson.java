package dev.flicker.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.SdkField;
import software.amazon.awssdk.core.SdkPojo;
import software.amazon.awssdk.core.protocol.MarshallLocation;
import software.amazon.awssdk.core.util.SdkAutoConstructList;
import software.amazon.awssdk.core.util.SdkAutoConstructMap;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * An SDK model object (a {@code FunctionConfiguration}, say) as Lambda's JSON: its body members under their wire
 * names ({@code FunctionName}, {@code MemorySize}...), from the SDK's own description of each field. Members the
 * answer did not hold are left out, as on the wire.
 */
final class ModelJson {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private ModelJson() {}

    static ObjectNode of(SdkPojo pojo) {
        ObjectNode out = NODES.objectNode();
        for (SdkField<?> field : pojo.sdkFields()) {
            if (field.location() != MarshallLocation.PAYLOAD) continue; // headers and status codes are not the body
            Object value = field.getValueOrDefault(pojo);
            if (present(value)) out.set(field.locationName(), value(value));
        }
        return out;
    }

    /** The SDK gives an absent list or map as an empty auto-constructed one, and an absent value as null. */
    private static boolean present(Object value) {
        return value != null && !(value instanceof SdkAutoConstructList<?>) && !(value instanceof SdkAutoConstructMap<?, ?>);
    }

    private static JsonNode value(Object value) {
        return switch (value) {
            case SdkPojo pojo -> of(pojo);
            case String s -> NODES.textNode(s);
            case Boolean b -> NODES.booleanNode(b);
            case Integer i -> NODES.numberNode(i);
            case Long l -> NODES.numberNode(l);
            case Float f -> NODES.numberNode(f);
            case Double d -> NODES.numberNode(d);
            case BigDecimal d -> NODES.numberNode(d);
            case Instant t -> NODES.textNode(t.toString());
            case SdkBytes bytes -> NODES.textNode(Base64.getEncoder().encodeToString(bytes.asByteArrayUnsafe()));
            case List<?> list -> {
                ArrayNode array = NODES.arrayNode();
                for (Object element : list) array.add(element == null ? NODES.nullNode() : value(element));
                yield array;
            }
            case Map<?, ?> map -> {
                ObjectNode object = NODES.objectNode();
                map.forEach((k, v) -> object.set(String.valueOf(k), v == null ? NODES.nullNode() : value(v)));
                yield object;
            }
            default -> NODES.textNode(value.toString());
        };
    }
}
