package dev.flicker.api;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

/**
 * HTTP/1.1 over a plain socket, for requests an HTTP client would not send: raw bytes in the path, a foreign
 * {@code Host}, a declared body that never comes. One request per connection.
 */
final class RawHttp implements AutoCloseable {
    record Reply(int status, Map<String, String> headers, String body) {
        String header(String name) {
            return headers.get(name);
        }
    }

    private final Socket socket;

    RawHttp(int port) throws IOException {
        this(port, 20_000); // bounds a test whose answer never comes; answers take milliseconds
    }

    RawHttp(int port, int readTimeoutMillis) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(readTimeoutMillis);
    }

    /** Sends {@code head} (request line and headers, without the blank line), the blank line, then {@code body}. */
    RawHttp send(String head, byte[] body) throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write((head + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.write(body);
        out.flush();
        return this;
    }

    /** Writes more of the body; false when the server has closed the connection meanwhile. */
    boolean sendMore(byte[] bytes) {
        try {
            socket.getOutputStream().write(bytes);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Reads the answer: status line, headers and the body (by Content-Length, or to the end of the connection). */
    Reply reply() throws IOException {
        InputStream in = socket.getInputStream();
        StringBuilder head = new StringBuilder();
        while (head.length() < 4 || !head.substring(head.length() - 4).equals("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) throw new IOException("the connection closed before an answer: " + head);
            head.append((char) b);
        }
        String[] lines = head.toString().split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        if (status == 100) return reply(); // 100 Continue, then the real answer
        Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) headers.merge(lines[i].substring(0, colon).strip(), lines[i].substring(colon + 1).strip(), (a, b) -> a + "\n" + b);
        }
        byte[] body;
        String length = headers.get("Content-Length");
        if (length != null) {
            body = in.readNBytes(Integer.parseInt(length));
        } else {
            ByteArrayOutputStream rest = new ByteArrayOutputStream();
            try {
                in.transferTo(rest);
            } catch (SocketTimeoutException e) {
                // a kept-alive connection without a length: what came is the body
            }
            body = rest.toByteArray();
        }
        return new Reply(status, headers, new String(body, StandardCharsets.UTF_8));
    }

    /** One request without a body, and its answer. */
    static Reply get(int port, String path, String host, String... headers) throws IOException {
        try (RawHttp http = new RawHttp(port)) {
            StringBuilder head = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close");
            for (String h : headers) head.append("\r\n").append(h);
            return http.send(head.toString(), new byte[0]).reply();
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
