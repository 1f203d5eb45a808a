package dev.flicker.api;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * AWS Signature Version 4 (the "AWS4-HMAC-SHA256" scheme), both sides in one place: {@link #sign} for
 * clients (tests, the CLI) and {@link #verify} for the API. Canonical request, string to sign and signing
 * key follow AWS's SigV4 specification; non-S3 services URI-encode each path segment twice.
 */
public final class SigV4 {
    public static final String ALGORITHM = "AWS4-HMAC-SHA256";
    public static final String SERVICE = "lambda";
    static final Duration MAX_SKEW = Duration.ofMinutes(15);
    private static final java.util.regex.Pattern HEX_SHA256 = java.util.regex.Pattern.compile("[0-9a-fA-F]{64}");
    private static final DateTimeFormatter AMZ_DATE = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    private SigV4() {}

    /** A request as signed: method, raw (encoded) path and query, headers (any case) and body. */
    public record Request(String method, String rawPath, String rawQuery, Map<String, String> headers, byte[] body) {}

    /** Why a request was refused: Lambda's error type and message (all are 403). */
    public static final class Refused extends Exception {
        final String type;

        Refused(String type, String message) {
            super(message, null, false, false);
            this.type = type;
        }
    }

    /**
     * The headers to add to {@code r} (Authorization, X-Amz-Date, X-Amz-Content-Sha256) to sign it with the
     * given key for {@code region} at {@code now}. {@code r.headers()} must already hold Host.
     */
    public static Map<String, String> sign(Request r, String accessKeyId, String secret, String region, Instant now) {
        String amzDate = AMZ_DATE.format(now);
        String date = amzDate.substring(0, 8);
        Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        headers.putAll(r.headers());
        headers.put("X-Amz-Date", amzDate);
        headers.put("X-Amz-Content-Sha256", hex(Sha256.of(r.body())));
        List<String> signed = new ArrayList<>();
        for (String h : headers.keySet()) signed.add(h.toLowerCase(Locale.ROOT));
        signed.sort(null);
        String scope = date + "/" + region + "/" + SERVICE + "/aws4_request";
        String canonical = canonicalRequest(r.method(), r.rawPath(), r.rawQuery(), signed, headers::get, hex(Sha256.of(r.body())));
        String signature = hex(hmac(signingKey(secret, date, region), stringToSign(amzDate, scope, canonical)));
        Map<String, String> out = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        out.put("X-Amz-Date", amzDate);
        out.put("X-Amz-Content-Sha256", headers.get("X-Amz-Content-Sha256"));
        out.put("Authorization", ALGORITHM + " Credential=" + accessKeyId + "/" + scope + ", SignedHeaders="
                + String.join(";", signed) + ", Signature=" + signature);
        return out;
    }

    /**
     * Checks {@code r}'s signature against {@code secrets} (access key id → secret) at {@code now}; returns the
     * access key id, or throws {@link Refused} with Lambda's error type. {@link #checkHeaders} and
     * {@link #verifySignature} in one call, for a body already in hand.
     */
    public static String verify(Request r, Map<String, String> secrets, Instant now) throws Refused {
        Authorization a = checkHeaders(r.headers(), secrets, now);
        return verifySignature(a, r.method(), r.rawPath(), r.rawQuery(), r.headers(), hex(Sha256.of(r.body())));
    }

    /** An {@code Authorization} header that passed {@link #checkHeaders}: what {@link #verifySignature} needs of it. */
    public record Authorization(String accessKeyId, String secret, String amzDate, String scopeDate, String region,
                                List<String> signedHeaders, String signature) {}

    /**
     * What can be checked before the body is read: an {@code Authorization} header of this scheme, a known
     * access key, a signing time within 15 minutes of {@code now}, the signed headers present, and a body that is
     * signed ({@code UNSIGNED-PAYLOAD} and streaming signatures are refused: with them, a captured request could
     * be replayed with another body). A request without credentials is refused before its body costs anything.
     */
    public static Authorization checkHeaders(Map<String, String> headers, Map<String, String> secrets, Instant now) throws Refused {
        Function<String, String> header = headerLookup(headers);
        String auth = header.apply("Authorization");
        if (auth == null || auth.isBlank()) throw new Refused("MissingAuthenticationTokenException", "Missing Authentication Token");
        if (!auth.startsWith(ALGORITHM + " ")) {
            throw new Refused("IncompleteSignatureException", "Only " + ALGORITHM + " signatures are accepted");
        }
        Map<String, String> parts = new TreeMap<>();
        for (String p : auth.substring(ALGORITHM.length() + 1).split(",")) {
            int eq = p.indexOf('=');
            if (eq > 0) parts.put(p.substring(0, eq).trim(), p.substring(eq + 1).trim());
        }
        String credential = parts.get("Credential"), signedHeaders = parts.get("SignedHeaders"), signature = parts.get("Signature");
        if (credential == null || signedHeaders == null || signature == null) {
            throw new Refused("IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature");
        }
        String[] scopeParts = credential.split("/");
        if (scopeParts.length != 5 || !scopeParts[4].equals("aws4_request") || !scopeParts[3].equals(SERVICE)) {
            throw new Refused("IncompleteSignatureException", "Credential must be KEY/DATE/REGION/lambda/aws4_request");
        }
        String secret = secrets.get(scopeParts[0]);
        if (secret == null) throw new Refused("UnrecognizedClientException", "The security token included in the request is invalid.");
        String amzDate = header.apply("X-Amz-Date");
        Instant signedAt;
        try {
            signedAt = Instant.from(AMZ_DATE.parse(amzDate));
        } catch (RuntimeException e) {
            throw new Refused("IncompleteSignatureException", "X-Amz-Date is missing or not yyyyMMddTHHmmssZ");
        }
        if (Duration.between(signedAt, now).abs().compareTo(MAX_SKEW) > 0) {
            throw new Refused("InvalidSignatureException", "Signature expired: " + amzDate + " is more than 15 minutes from the server's time");
        }
        if (!amzDate.startsWith(scopeParts[1])) throw new Refused("InvalidSignatureException", "Credential date does not match X-Amz-Date");
        List<String> signed = List.of(signedHeaders.split(";"));
        if (!signed.contains("host")) throw new Refused("InvalidSignatureException", "the Host header must be signed");
        for (String h : signed) {
            if (header.apply(h) == null) throw new Refused("InvalidSignatureException", "signed header " + h + " is missing");
        }
        String contentSha = header.apply("X-Amz-Content-Sha256");
        if (contentSha != null && !HEX_SHA256.matcher(contentSha).matches()) {
            throw new Refused("InvalidSignatureException", "X-Amz-Content-Sha256 must be the SHA-256 of the body in hex; "
                    + "unsigned (UNSIGNED-PAYLOAD) and streaming payloads are not accepted");
        }
        return new Authorization(scopeParts[0], secret, amzDate, scopeParts[1], scopeParts[2], signed, signature);
    }

    /**
     * Checks the signature of a request whose headers passed {@link #checkHeaders}, given the SHA-256 (hex) of
     * its body; returns the access key id.
     */
    public static String verifySignature(Authorization a, String method, String rawPath, String rawQuery, Map<String, String> headers,
                                         String payloadSha256Hex) throws Refused {
        Function<String, String> header = headerLookup(headers);
        String contentSha = header.apply("X-Amz-Content-Sha256");
        if (contentSha != null && !contentSha.equalsIgnoreCase(payloadSha256Hex)) {
            throw new Refused("InvalidSignatureException", "X-Amz-Content-Sha256 does not match the body");
        }
        String scope = String.join("/", a.scopeDate(), a.region(), SERVICE, "aws4_request");
        String canonical = canonicalRequest(method, rawPath, rawQuery, a.signedHeaders(), header, payloadSha256Hex);
        String expected = hex(hmac(signingKey(a.secret(), a.scopeDate(), a.region()), stringToSign(a.amzDate(), scope, canonical)));
        if (!MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII), a.signature().getBytes(StandardCharsets.US_ASCII))) {
            throw new Refused("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. "
                    + "Check your AWS Secret Access Key and signing method.");
        }
        return a.accessKeyId();
    }

    private static Function<String, String> headerLookup(Map<String, String> headers) {
        return name -> {
            for (var e : headers.entrySet()) if (e.getKey().equalsIgnoreCase(name)) return e.getValue();
            return null;
        };
    }

    static String canonicalRequest(String method, String rawPath, String rawQuery, List<String> signedHeaders,
                                   Function<String, String> header, String payloadSha256Hex) {
        StringBuilder b = new StringBuilder(method).append('\n');
        b.append(canonicalUri(rawPath)).append('\n');
        b.append(canonicalQuery(rawQuery)).append('\n');
        for (String h : signedHeaders) b.append(h).append(':').append(header.apply(h).trim().replaceAll(" +", " ")).append('\n');
        b.append('\n').append(String.join(";", signedHeaders)).append('\n');
        String contentSha = header.apply("x-amz-content-sha256");
        b.append(contentSha != null && signedHeaders.contains("x-amz-content-sha256") ? contentSha : payloadSha256Hex);
        return b.toString();
    }

    /** Each segment decoded, then URI-encoded twice (AWS's rule for every service but S3). */
    static String canonicalUri(String rawPath) {
        if (rawPath == null || rawPath.isEmpty()) return "/";
        StringBuilder b = new StringBuilder();
        String[] segments = rawPath.split("/", -1);
        for (int i = 0; i < segments.length; i++) {
            if (i > 0) b.append('/');
            b.append(encode(encode(decode(segments[i]))));
        }
        return b.toString();
    }

    static String canonicalQuery(String rawQuery) {
        if (rawQuery == null || rawQuery.isEmpty()) return "";
        List<String[]> pairs = new ArrayList<>();
        for (String p : rawQuery.split("&")) {
            if (p.isEmpty()) continue;
            int eq = p.indexOf('=');
            String k = eq < 0 ? p : p.substring(0, eq), v = eq < 0 ? "" : p.substring(eq + 1);
            pairs.add(new String[] {encode(decode(k)), encode(decode(v))});
        }
        pairs.sort((a, c) -> a[0].equals(c[0]) ? a[1].compareTo(c[1]) : a[0].compareTo(c[0]));
        List<String> out = new ArrayList<>();
        for (String[] p : pairs) out.add(p[0] + "=" + p[1]);
        return String.join("&", out);
    }

    private static String stringToSign(String amzDate, String scope, String canonicalRequest) {
        return ALGORITHM + "\n" + amzDate + "\n" + scope + "\n" + hex(Sha256.of(canonicalRequest));
    }

    private static byte[] signingKey(String secret, String date, String region) {
        byte[] k = hmac(("AWS4" + secret).getBytes(StandardCharsets.UTF_8), date);
        k = hmac(k, region);
        k = hmac(k, SERVICE);
        return hmac(k, "aws4_request");
    }

    /** RFC 3986: unreserved characters stay, everything else is %XX of its UTF-8 bytes. */
    static String encode(String s) {
        StringBuilder b = new StringBuilder();
        for (byte c : s.getBytes(StandardCharsets.UTF_8)) {
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~') {
                b.append((char) c);
            } else {
                b.append('%').append(String.format("%02X", c & 0xff));
            }
        }
        return b.toString();
    }

    private static String decode(String s) {
        return java.net.URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    private static byte[] hmac(byte[] key, String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
        } catch (java.security.GeneralSecurityException e) {
            throw new AssertionError(e);
        }
    }

    private static String hex(byte[] bytes) {
        return Sha256.hex(bytes);
    }
}
