"""Encodes a trace as py_zipkin sends it, for tests that post its bodies to collectors.

Reads a JSON spec on stdin and writes one JSON object on stdout:

    in:  {"encoding": "V1_JSON" | "V2_PROTO3" | "V2_JSON", "host": "127.0.0.1",
          "trace": SPAN}
         SPAN = {"service": "service1", "name": "GET /", "kind": "SERVER" | "CLIENT" | "LOCAL",
                 "port": 5000, "tags": {"k": "v"}, "remote": {"service": "service2",
                 "port": 6000}, "sleep_ms": 1, "children": [SPAN, ...]}
    out: {"trace_id": "...", "bodies": ["<base64 of one POST body>", ...]}

The spans are not built by hand with `py_zipkin.encoding.Span`: each one is a real
`zipkin_span` context, as the article's Flask services open them, and the bodies are what
py_zipkin hands its transport. That way the test checks the bytes a py_zipkin service
really sends (its v1 annotations, the shared flag it sets on a joined server span, the
endpoints it fills in), not our idea of them. A child whose service differs from its
parent's is another process in the article: here it runs on a thread of its own (py_zipkin
keeps its tracer per thread) as the root of that service, joining its parent's span with
the ids a B3 header would carry. Each service's root sends one body when it ends, so the
callee's body comes before the caller's.
"""

import base64
import json
import sys
import threading
import time

from py_zipkin import Kind
from py_zipkin.encoding import Encoding
from py_zipkin.transport import BaseTransportHandler
from py_zipkin.zipkin import ZipkinAttrs, zipkin_span

KINDS = {"SERVER": Kind.SERVER, "CLIENT": Kind.CLIENT, "LOCAL": Kind.LOCAL}


class CapturingTransport(BaseTransportHandler):
    """A transport that keeps each encoded body instead of sending it."""

    def __init__(self, bodies, lock):
        self.bodies = bodies
        self.lock = lock

    def get_max_payload_bytes(self):
        return None

    def send(self, payload):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        with self.lock:
            self.bodies.append(payload)


class Run:
    """One trace being recorded: the spec's settings and the bodies sent so far."""

    def __init__(self, spec):
        self.encoding = Encoding[spec["encoding"]]
        self.host = spec.get("host", "127.0.0.1")
        self.bodies = []
        self.lock = threading.Lock()
        self.trace_id = None

    def span(self, node, **root):
        """A `zipkin_span` for `node`; `root` holds the arguments a service's root takes."""
        if root:
            root.update(
                transport_handler=CapturingTransport(self.bodies, self.lock),
                encoding=self.encoding,
                host=self.host,
                port=node.get("port", 0),
            )
        return zipkin_span(
            service_name=node["service"],
            span_name=node["name"],
            kind=KINDS[node.get("kind", "LOCAL")],
            binary_annotations=dict(node.get("tags", {})),
            **root,
        )

    def record(self, node, parent_service=None, **root):
        """Runs `node` and its children; a child of another service joins on a thread."""
        with self.span(node, **root) as context:
            attrs = context.zipkin_attrs
            if self.trace_id is None:
                self.trace_id = attrs.trace_id
            remote = node.get("remote")
            if remote:
                context.add_sa_binary_annotation(
                    port=remote.get("port", 0),
                    service_name=remote["service"],
                    host=remote.get("host", self.host),
                )
            time.sleep(node.get("sleep_ms", 0) / 1000)
            for child in node.get("children", []):
                if child["service"] == node["service"]:
                    self.record(child)
                else:
                    self.call(child, attrs)

    def call(self, callee, caller):
        """The callee service joins the caller's span, as it would from B3 headers."""
        joined = ZipkinAttrs(
            trace_id=caller.trace_id,
            span_id=caller.span_id,
            parent_span_id=caller.parent_span_id,
            flags="0",
            is_sampled=True,
        )
        failure = []

        def serve():
            try:
                self.record(callee, zipkin_attrs=joined)
            except BaseException as error:  # reported on the caller's thread
                failure.append(error)

        thread = threading.Thread(target=serve)
        thread.start()
        thread.join()
        if failure:
            raise failure[0]


def main():
    spec = json.load(sys.stdin)
    run = Run(spec)
    run.record(spec["trace"], sample_rate=100.0, use_128bit_trace_id=True)
    bodies = [base64.b64encode(body).decode("ascii") for body in run.bodies]
    json.dump({"trace_id": run.trace_id, "bodies": bodies}, sys.stdout)


if __name__ == "__main__":
    main()
