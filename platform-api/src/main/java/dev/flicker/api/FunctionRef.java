package dev.flicker.api;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which function, and which of its versions, a request means. Lambda accepts the function as a name
 * ({@code my-fn}), a name with a qualifier ({@code my-fn:3}), a partial ARN ({@code 000000000000:function:my-fn})
 * or a full ARN, and the qualifier also as the {@code Qualifier} query parameter. Flicker's qualifiers are
 * {@code $LATEST} and published version numbers; it has no aliases.
 */
public record FunctionRef(String name, String qualifier) {
    public static final String LATEST = "$LATEST";
    private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9_-]{1,64}");
    private static final Pattern FORMS = Pattern.compile(
            "(?:(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?\\d{12}:function:)?([a-zA-Z0-9_-]{1,64})(?::([^:]+))?");
    private static final Pattern VERSION = Pattern.compile("[1-9][0-9]{0,8}");
    /** Lambda's pattern for a qualifier (a version or an alias name). */
    private static final Pattern QUALIFIER = Pattern.compile("[a-zA-Z0-9$_-]{1,128}");

    /** Parses a FunctionName and an optional Qualifier; throws Lambda's InvalidParameterValueException when malformed. */
    public static FunctionRef parse(String functionName, String qualifierParam) {
        Matcher m = functionName == null ? null : FORMS.matcher(functionName);
        if (m == null || !m.matches()) {
            throw LambdaError.invalid("FunctionName '" + functionName + "' is not a function name (1 to 64 letters, "
                    + "digits, '-' or '_'), a name:qualifier or a function ARN");
        }
        String inName = m.group(2);
        if (inName != null && qualifierParam != null && !inName.equals(qualifierParam)) {
            throw LambdaError.invalid("The qualifier in FunctionName (" + inName + ") and the Qualifier parameter ("
                    + qualifierParam + ") differ");
        }
        String qualifier = inName != null ? inName : qualifierParam != null ? qualifierParam : LATEST;
        if (!QUALIFIER.matcher(qualifier).matches()) {
            throw LambdaError.invalid("Qualifier must be 1 to 128 letters, digits, '$', '-' or '_'");
        }
        if (!qualifier.equals(LATEST) && !VERSION.matcher(qualifier).matches()) {
            throw LambdaError.notFound("Function not found: " + FunctionRegistry.arn(m.group(1)) + ":" + qualifier
                    + " (Flicker's qualifiers are $LATEST and version numbers; it has no aliases)");
        }
        return new FunctionRef(m.group(1), qualifier);
    }

    /** The function's name, for the operations that take no qualifier (a name or an unqualified ARN). */
    public static String unqualifiedName(String functionName) {
        FunctionRef ref = parse(functionName, null);
        if (namesQualifier(functionName, null)) {
            throw LambdaError.invalid("this operation takes a function without a qualifier, not " + functionName);
        }
        return ref.name();
    }

    /** True when the request names a qualifier, {@code $LATEST} included, in the name or as the parameter. */
    public static boolean namesQualifier(String functionName, String qualifierParam) {
        if (qualifierParam != null) return true;
        Matcher m = functionName == null ? null : FORMS.matcher(functionName);
        return m != null && m.matches() && m.group(2) != null;
    }

    static boolean validName(String name) {
        return name != null && NAME.matcher(name).matches();
    }

    public static FunctionRef latest(String name) {
        return new FunctionRef(name, LATEST);
    }

    public boolean isLatest() {
        return qualifier.equals(LATEST);
    }

    /** The version number; only for a published version. */
    public int version() {
        return Integer.parseInt(qualifier);
    }

    /** The key of this version among the platform's runtimes and in {@code function_versions}: {@code name:qualifier}. */
    public String key() {
        return name + ":" + qualifier;
    }

    /** The ARN Lambda reports: unqualified for $LATEST, {@code ...:function:name:N} for a version. */
    public String arn() {
        return isLatest() ? FunctionRegistry.arn(name) : FunctionRegistry.arn(name) + ":" + qualifier;
    }
}
