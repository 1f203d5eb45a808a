package dev.flicker.api;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Response;

import java.net.URI;

/**
 * Sends a browser at {@code /} or {@code /dashboard} to the dashboard, which is served as static files from
 * {@code META-INF/resources/dashboard/}, and logs it in ({@code /dashboard/login}). 303, not 301: browsers do
 * not cache it, so {@code /} can serve something else later without stale redirects.
 */
@Path("/")
public class RootResource {
    private final AdminAuth admin;

    public RootResource(AdminAuth admin) {
        this.admin = admin;
    }

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

    /**
     * The login URL the platform prints at start: with the right token, the dashboard's cookie (HttpOnly, so no
     * script reads it; SameSite=Strict, so no other site's page sends it) and on to the dashboard.
     */
    @GET
    @Path("dashboard/login")
    public Response login(@QueryParam("token") String token) {
        if (!admin.accepts(token)) {
            return Response.status(403).type("text/plain; charset=utf-8")
                    .entity("This is not the platform's admin token: open the login URL the platform printed at its last start.\n")
                    .build();
        }
        return Response.seeOther(URI.create("/dashboard/")).header("Set-Cookie", admin.cookieHeader())
                .header("Cache-Control", "no-store").header("Referrer-Policy", "no-referrer").build();
    }

    private static Response toDashboard() {
        return Response.seeOther(URI.create("/dashboard/")).build();
    }
}
