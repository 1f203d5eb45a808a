"""The python3.11 runtime's bootstrap: AWS Lambda's Runtime API loop, in the standard library only.

Started as `python3.11 /var/runtime/bootstrap.py` with Lambda's environment (_HANDLER, LAMBDA_TASK_ROOT,
AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME...). It imports the handler module (the init phase), then
loops: GET /next, handler(event, context), POST the JSON result to /response or the error to /error.
A handler that cannot be loaded is an init error: it is posted to /init/error and the process exits 1.
"""
import importlib
import json
import logging
import os
import socket
import sys
import time
import traceback

API_PREFIX = "/2018-06-01/runtime"


class RuntimeApi:
    """One keep-alive HTTP/1.1 connection to the Runtime API (AWS_LAMBDA_RUNTIME_API, host:port).

    Spoken over a plain socket, as Lambda's own runtime client does in C: http.client parses every response's
    headers with the email package, and in a clone of a snapshot every page of code and objects that touches is
    a page the VM reads or copies for the first time (see docs/python.md)."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.address = (host, int(port))
        self.host = address
        self.socket = None
        self.buffer = b""

    def _connect(self):
        self.socket = socket.create_connection(self.address)
        self.buffer = b""

    def _call(self, method, path, body=b"", headers=None):
        if self.socket is None:
            self._connect()
        head = [f"{method} {API_PREFIX}{path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}")
        self.socket.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        return self._response()

    def _read_more(self):
        chunk = self.socket.recv(65536)
        if not chunk:
            self.socket = None
            raise ConnectionError("the Runtime API closed the connection")
        self.buffer += chunk

    def _response(self):
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._read_more()
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        self.buffer = self.buffer[end + 4:]
        status = int(lines[0].split(" ", 2)[1])
        headers = Headers()
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(self.buffer) >= length:
            payload, self.buffer = self.buffer[:length], self.buffer[length:]
        else:  # a large event: read straight into its buffer rather than growing one by concatenation
            payload = bytearray(length)
            got = len(self.buffer)
            payload[:got] = self.buffer
            self.buffer = b""
            view = memoryview(payload)
            while got < length:
                n = self.socket.recv_into(view[got:])
                if n == 0:
                    self.socket = None
                    raise ConnectionError("the Runtime API closed the connection")
                got += n
            payload = bytes(payload)
        if headers.get("connection", "").lower() == "close":
            self.socket.close()
            self.socket = None
        return status, headers, payload

    def next_invocation(self):
        status, headers, payload = self._call("GET", "/invocation/next")
        if status != 200:
            raise RuntimeError(f"the Runtime API answered /invocation/next with {status}: {payload[:200]!r}")
        return headers, payload

    def post(self, path, body, error_type=None):
        headers = {"Content-Type": "application/json"}
        if error_type is not None:
            headers["Lambda-Runtime-Function-Error-Type"] = error_type
        status, _, payload = self._call("POST", path, body, headers)
        if status != 202:
            print(f"[WARN] the Runtime API answered {path} with {status}: {payload[:200]!r}", file=sys.stderr)


class Headers(dict):
    """Response headers by lower-case name; get() takes any case, as http.client's did."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)


class LambdaContext:
    """The `context` argument of a handler, with Lambda's attribute names."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.client_context = client_context
        self.identity = identity
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self):
        return (f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name},"
                f"function_version={self.function_version},invoked_function_arn={self.invoked_function_arn}])")


class HandlerError(Exception):
    """A failure to load the handler, reported with Lambda's errorType (Runtime.ImportModuleError...)."""

    def __init__(self, error_type, message, stack_trace=()):
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = list(stack_trace)


def load_handler(spec, task_root):
    """'module.func', 'pkg.module.func' or 'dir/module.func' -> the function."""
    module_path, dot, function_name = spec.rpartition(".")
    if not dot or not module_path or not function_name:
        raise HandlerError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': expected module.function")
    module_name = module_path.replace("/", ".")
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as e:
        where = f'  File "{e.filename}" Line {e.lineno}\n    {(e.text or "").strip()}\n'
        raise HandlerError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {e}", [where]) from e
    except ImportError as e:
        raise HandlerError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {e}") from e
    function = getattr(module, function_name, None)
    if function is None:
        raise HandlerError("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    if not callable(function):
        raise HandlerError("Runtime.HandlerNotFound", f"Handler '{function_name}' on module '{module_name}' is not callable")
    return function


def error_body(error_type, message, frames):
    return {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": list(frames)}


def frames_of(tb):
    """The traceback from the handler's frame on: the bootstrap's own frames are left out, as Lambda does."""
    frames = traceback.extract_tb(tb)
    while frames and frames[0].filename == __file__:
        frames.pop(0)
    return traceback.format_list(frames)


def log_error(body):
    """The error and its traceback, as Lambda's Python runtime writes them to the function's log."""
    lines = [f"[ERROR] {body['errorType']}: {body['errorMessage']}", "Traceback (most recent call last):"]
    lines.extend(frame.rstrip("\n") for frame in body["stackTrace"])
    print("\n".join(lines), file=sys.stderr)


class RequestIdFilter(logging.Filter):
    """Adds the current invocation's request id to every log record, as Lambda's log format shows it."""
    request_id = ""

    def filter(self, record):
        record.aws_request_id = RequestIdFilter.request_id
        return True


def setup_logging():
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(RequestIdFilter())
    formatter = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
                                  "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def explain_threads():
    """A thread cannot start in the micro guest yet (clone is ENOSYS): say why, where CPython only says it cannot."""
    import _thread
    import threading
    start = _thread.start_new_thread

    def start_new_thread(function, args, kwargs=None):
        try:
            return start(function, args, kwargs or {})
        except RuntimeError as e:
            raise RuntimeError(f"{e}: Flicker's micro guest runs one thread per function for now "
                               "(clone is ENOSYS until it has threads)") from None

    _thread.start_new_thread = start_new_thread
    threading._start_new_thread = start_new_thread


def flush_output():
    # The VM may stop as soon as the answer is posted, so the logs must be out before it is.
    sys.stdout.flush()
    sys.stderr.flush()


def reseed():
    """The event may reach a fresh clone of a snapshot taken at /next: random's generator, seeded once when it was
    imported, would give every clone the same numbers. It is seeded again from os.urandom, which the host answers
    with fresh bytes in every clone."""
    module = sys.modules.get("random")
    if module is not None:
        module.seed()


def invoke(api, handler, headers, payload):
    reseed()
    request_id = headers.get("Lambda-Runtime-Aws-Request-Id", "")
    RequestIdFilter.request_id = request_id
    trace_id = headers.get("Lambda-Runtime-Trace-Id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    client_context = headers.get("Lambda-Runtime-Client-Context")
    identity = headers.get("Lambda-Runtime-Cognito-Identity")
    context = LambdaContext(request_id, int(headers.get("Lambda-Runtime-Deadline-Ms", "0")),
                            headers.get("Lambda-Runtime-Invoked-Function-Arn", ""),
                            json.loads(client_context) if client_context else None,
                            json.loads(identity) if identity else None)
    try:
        event = json.loads(payload) if payload else {}
        result = handler(event, context)
    except Exception as e:
        body = error_body(type(e).__name__, str(e), frames_of(e.__traceback__))
        body["requestId"] = request_id
        log_error(body)
        flush_output()
        api.post(f"/invocation/{request_id}/error", json.dumps(body).encode(), "Unhandled")
        return
    try:
        answer = json.dumps(result).encode()
    except (TypeError, ValueError) as e:
        body = error_body("Runtime.MarshalError", f"Unable to marshal response: {e}", [])
        body["requestId"] = request_id
        log_error(body)
        flush_output()
        api.post(f"/invocation/{request_id}/error", json.dumps(body).encode(), "Runtime.MarshalError")
        return
    flush_output()
    api.post(f"/invocation/{request_id}/response", answer)


def main():
    api = RuntimeApi(os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"))
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    setup_logging()
    explain_threads()
    if os.path.isdir(task_root):
        os.chdir(task_root)
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""), task_root)
    except HandlerError as e:
        body = error_body(e.error_type, str(e), e.stack_trace)
        log_error(body)
        flush_output()
        api.post("/init/error", json.dumps(body).encode(), e.error_type)
        sys.exit(1)
    while True:
        headers, payload = api.next_invocation()
        invoke(api, handler, headers, payload)


if __name__ == "__main__":
    main()
