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

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public Response toResponse() {
        record Body(String Type, String message) {}
        return Response.status(status).header("X-Amzn-ErrorType", type)
                .entity(new Body(status >= 500 ? "Service" : "User", getMessage()))
                .type("application/json").build();
    }
}
