package dev.flicker.api;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.core.Response;

import java.net.URI;

/** {@code GET /} sends a browser to the dashboard (303, so it is never cached as the API's root). */
@Path("/")
public class RootResource {
    @GET
    public Response root() {
        return Response.seeOther(URI.create("/dashboard/")).build();
    }
}
