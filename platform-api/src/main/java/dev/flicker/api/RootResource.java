package dev.flicker.api;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.core.Response;

import java.net.URI;

/**
 * Sends a browser at {@code /} or {@code /dashboard} to the dashboard, which is served as static files from
 * {@code META-INF/resources/dashboard/}. 303, not 301: browsers do not cache it, so {@code /} can
 * serve something else later without stale redirects.
 */
@Path("/")
public class RootResource {
    @GET
    public Response root() {
        return toDashboard();
    }

    /** Without its slash, the page's relative links (dashboard.js, ../admin/overview) would miss. */
    @GET
    @Path("dashboard")
    public Response dashboardWithoutSlash() {
        return toDashboard();
    }

    private static Response toDashboard() {
        return Response.seeOther(URI.create("/dashboard/")).build();
    }
}
