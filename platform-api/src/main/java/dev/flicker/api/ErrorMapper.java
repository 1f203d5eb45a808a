package dev.flicker.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import org.jboss.logging.Logger;

/**
 * The one exception mapper: every failure leaves in Lambda's error shape, and only real faults are 500s. A 500 says
 * only an error id; the exception, which may hold SQL or host paths, goes to the log under that id.
 */
@Provider
public class ErrorMapper implements ExceptionMapper<Throwable> {
    private static final Logger LOG = Logger.getLogger(ErrorMapper.class);

    @Override
    public Response toResponse(Throwable e) {
        if (e instanceof LambdaError le) return le.toResponse();
        if (e instanceof JsonProcessingException || e.getCause() instanceof JsonProcessingException) {
            return LambdaError.invalid("the request body is not valid JSON: " + firstLine(e)).toResponse();
        }
        if (e instanceof NotFoundException) {
            return new LambdaError(404, "UnrecognizedClientException", "no such API path").toResponse();
        }
        if (e instanceof WebApplicationException wae && wae.getResponse().getStatus() < 500) {
            int status = wae.getResponse().getStatus();
            if (status == 400) return LambdaError.invalid(firstLine(e)).toResponse();
            return new LambdaError(status, "InvalidRequestContentException", firstLine(e)).toResponse();
        }
        // Its message may hold anything (SQL, paths, a guest's bytes): logged with an id, never answered.
        String errorId = java.util.UUID.randomUUID().toString();
        LOG.errorf(e, "request failed, error id %s", errorId);
        return new LambdaError(500, "ServiceException", "internal error " + errorId + " (the platform's log has the details)")
                .toResponse();
    }

    private static String firstLine(Throwable e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
