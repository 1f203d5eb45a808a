package dev.flicker.api;

import jakarta.ws.rs.core.Response;

/**
 * An error in AWS Lambda's shape: an HTTP status, the error type in {@code X-Amzn-ErrorType} and a JSON body
 * {@code {"Type": "User", "message": "..."}}, as the AWS SDKs parse it.
 */
public final class LambdaError extends RuntimeException {
    private final int status;
    private final String type;

    public LambdaError(int status, String type, String message) {
        super(message);
        this.status = status;
        this.type = type;
    }

    public static LambdaError notFound(String what) {
        return new LambdaError(404, "ResourceNotFoundException", what);
    }

    public static LambdaError invalid(String what) {
        return new LambdaError(400, "InvalidParameterValueException", what);
    }

    public static LambdaError conflict(String what) {
        return new LambdaError(409, "ResourceConflictException", what);
    }

    public static LambdaError tooLarge(String what) {
        return new LambdaError(413, "RequestTooLargeException", what);
    }

    /** 429 with Lambda's {@code Reason} (which limit was hit). */
    public static LambdaError throttled(String reason, String message) {
        LambdaError e = new LambdaError(429, "TooManyRequestsException", message);
        e.reason = reason;
        return e;
    }

    private String reason;

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public Response toResponse() {
        @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
        record Body(String Type, String message, String Reason) {}
        return Response.status(status).header("X-Amzn-ErrorType", type)
                .entity(new Body(status >= 500 ? "Service" : "User", getMessage(), reason))
                .type("application/json").build();
    }
}
