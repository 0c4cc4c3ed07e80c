"""The Python `mcp` client's trace context continues on the server: a tool call made inside
a known trace carries `traceparent` in `_meta` (the SDK injects it, SEP-414), and the
server's exported span for that call has that trace id and that span as its parent.

Usage: python_trace.py path/to/quickstart
Runs an OTLP/HTTP receiver on loopback, starts the quickstart over stdio with
OTEL_EXPORTER_OTLP_ENDPOINT pointing at it, and calls `add` in the legacy and 2026-07-28
eras. Needs `mcp` 2.3.0 and `opentelemetry-proto`. Exits non-zero with the failing check.
"""

import asyncio
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from mcp import Client, StdioServerParameters
from opentelemetry import context, trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

SPANS = []
LOCK = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/v1/traces":
            export = ExportTraceServiceRequest()
            export.ParseFromString(body)
            with LOCK:
                for resource in export.resource_spans:
                    for scope in resource.scope_spans:
                        SPANS.extend(scope.spans)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def check(condition, what):
    if not condition:
        raise SystemExit(f"trace interop check failed: {what}")


def server_span(trace_id, deadline):
    """The exported `tools/call add` span of `trace_id`, waiting until `deadline`."""
    while time.monotonic() < deadline:
        with LOCK:
            for span in SPANS:
                if span.trace_id.hex() == trace_id and span.name == "tools/call add":
                    return span
        time.sleep(0.1)
    with LOCK:
        seen = [(s.name, s.trace_id.hex()) for s in SPANS]
    raise SystemExit(f"trace interop check failed: no server span for trace {trace_id}; saw {seen}")


async def call_in_trace(binary, endpoint, mode, trace_id, parent_id):
    env = dict(os.environ)
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    env["OTEL_BSP_SCHEDULE_DELAY"] = "100"
    params = StdioServerParameters(command=binary, args=[], env=env)
    parent = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=int(trace_id, 16),
            span_id=int(parent_id, 16),
            is_remote=False,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        )
    )
    async with Client(params, mode=mode) as client:
        token = context.attach(trace.set_span_in_context(parent))
        try:
            result = await client.call_tool("add", {"a": 2, "b": 40})
        finally:
            context.detach(token)
        check(not result.is_error, f"{mode}: add failed: {result}")
        # Exported within the batch delay, while the server still runs.
        span = server_span(trace_id, time.monotonic() + 15)
    check(span.parent_span_id.hex() == parent_id,
          f"{mode}: parent {span.parent_span_id.hex()}, expected {parent_id}")
    check(span.kind == 2, f"{mode}: span kind {span.kind}, expected server")
    attributes = {a.key: a.value.string_value for a in span.attributes}
    check(attributes.get("mcp.method.name") == "tools/call", f"{mode}: attributes {attributes}")
    check(attributes.get("gen_ai.tool.name") == "add", f"{mode}: attributes {attributes}")
    check(attributes.get("network.transport") == "pipe", f"{mode}: attributes {attributes}")


async def main(binary):
    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{receiver.server_address[1]}"
    cases = [
        ("legacy", "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"),
        ("2026-07-28", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"),
    ]
    for mode, trace_id, parent_id in cases:
        await call_in_trace(binary, endpoint, mode, trace_id, parent_id)
    receiver.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
