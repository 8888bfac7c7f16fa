//! The generated span sets posted to both collectors: each one a shape of trace that real
//! tracers produce and that a collector could get wrong. Every set lives in its own hour
//! (`base` is its start, in epoch microseconds), so a time window can pick out one set.

use serde_json::{Value, json};

/// One set: the batches to post, in order (a span reported twice is in two batches).
pub struct SpanSet {
    /// What the set exercises, for failure messages.
    pub name: &'static str,
    /// The POST bodies, each a list of spans.
    pub batches: Vec<Vec<Value>>,
}

/// One span as a table row: its id and parent (numbers, written as 16 hex digits after
/// the trace's prefix), service, name, kind (`""` for a local span), start (microseconds
/// after the set's `base`) and duration.
type Row<'a> = (u64, Option<u64>, &'a str, &'a str, &'a str, u64, u64);

/// A trace being written: its id, the prefix of its span ids, and its set's start.
struct Trace {
    id: &'static str,
    prefix: u64,
    base: u64,
}

impl Trace {
    /// The spans of `rows`, as Zipkin v2 JSON.
    fn rows(&self, rows: &[Row<'_>]) -> Vec<Value> {
        rows.iter().map(|row| self.span(*row)).collect()
    }

    fn span(&self, (id, parent, service, name, kind, start, duration): Row<'_>) -> Value {
        let hex = |n: u64| format!("{:016x}", (self.prefix << 48) | n);
        let mut span = json!({
            "traceId": self.id,
            "id": hex(id),
            "name": name,
            "timestamp": self.base + start,
            "duration": duration,
            "localEndpoint": { "serviceName": service },
        });
        if let Some(parent) = parent {
            span["parentId"] = json!(hex(parent));
        }
        if !kind.is_empty() {
            span["kind"] = json!(kind);
        }
        span
    }
}

/// Every generated set; set `k` starts `k` hours before `now`.
pub fn all(now: u64) -> Vec<SpanSet> {
    let hour = 3_600_000_000;
    let builders: [fn(u64) -> SpanSet; 8] = [
        shared,
        missing_parents,
        id_widths,
        annotations,
        remote_endpoints,
        repeated_reports,
        clock_skew,
        messaging,
    ];
    let slots = builders.iter().zip(1..);
    slots.map(|(build, k)| build(now - k * hour)).collect()
}

/// Clients and the servers that joined their spans (`shared`), with mixed-case names; one
/// call has an `error` tag on its server half, the other on its client half only.
fn shared(base: u64) -> SpanSet {
    let id = "5a1ed000000000000000000000000001";
    let mut spans = Trace {
        id,
        prefix: 0x5a,
        base,
    }
    .rows(&[
        (1, None, "Frontend", "GET /Checkout", "SERVER", 0, 10_000),
        (2, Some(1), "Frontend", "POST /pay", "CLIENT", 1_000, 5_000),
        (2, Some(1), "payments", "POST /pay", "SERVER", 1_100, 4_800),
        (3, Some(2), "payments", "charge", "", 1_200, 4_000),
        (4, Some(1), "Frontend", "POST /pay", "CLIENT", 6_500, 3_000),
        (4, Some(1), "payments", "POST /pay", "SERVER", 6_600, 2_000),
    ]);
    spans[1]["tags"] = json!({"http.method": "POST"});
    spans[2]["shared"] = json!(true);
    spans[2]["tags"] = json!({"http.method": "POST", "error": "card declined"});
    spans[4]["tags"] = json!({"error": "timeout"});
    spans[5]["shared"] = json!(true);
    SpanSet {
        name: "shared client/server spans",
        batches: vec![spans],
    }
}

/// The root never arrived; a server is a plain child of its client (which failed), and a
/// client deeper down is on a third service.
fn missing_parents(base: u64) -> SpanSet {
    let id = "0000000000000b0b";
    let mut spans = Trace {
        id,
        prefix: 0xb0,
        base,
    }
    .rows(&[
        (0x12, Some(0xff), "web", "call api", "CLIENT", 0, 900),
        (0x13, Some(0x12), "api", "get /items", "SERVER", 50, 800),
        (0x14, Some(0xfe), "web", "call nothing", "CLIENT", 60, 10),
        (0x15, Some(0x13), "cache", "get", "CLIENT", 100, 300),
    ]);
    spans[0]["tags"] = json!({"error": "timeout"});
    spans[3]["remoteEndpoint"] = json!({"serviceName": "redis"});
    SpanSet {
        name: "missing parents",
        batches: vec![spans],
    }
}

/// A 64-bit trace id and a 128-bit one whose low half is the same.
fn id_widths(base: u64) -> SpanSet {
    let short = Trace {
        id: "00000000000000ab",
        prefix: 0xab,
        base,
    };
    let mut spans = short.rows(&[
        (1, None, "ids", "old tracer", "SERVER", 0, 2_000),
        (2, Some(1), "ids", "query", "CLIENT", 100, 1_000),
    ]);
    spans[1]["remoteEndpoint"] = json!({"serviceName": "legacy"});
    let long = Trace {
        id: "00000000000000cd00000000000000ab",
        prefix: 0xcd,
        base,
    };
    spans.extend(long.rows(&[(1, None, "ids", "new tracer", "SERVER", 200, 3_000)]));
    SpanSet {
        name: "64- and 128-bit trace ids",
        batches: vec![spans],
    }
}

/// Annotations (events with a time), sent out of order, beside tags: for
/// `annotationQuery`.
fn annotations(base: u64) -> SpanSet {
    let id = "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a1";
    let mut spans = Trace {
        id,
        prefix: 0xa0,
        base,
    }
    .rows(&[
        (1, None, "worker", "process job", "", 0, 6_000),
        (2, Some(1), "worker", "write file", "", 2_000, 3_000),
    ]);
    spans[0]["annotations"] = json!([
        {"timestamp": base + 1_000, "value": "retried"},
        {"timestamp": base + 10, "value": "queued"},
    ]);
    spans[0]["tags"] = json!({"job.kind": "export", "attempt": "2"});
    spans[1]["annotations"] = json!([{"timestamp": base + 2_500, "value": "flushed"}]);
    SpanSet {
        name: "annotations and tags",
        batches: vec![spans],
    }
}

/// Remote endpoints with addresses and ports: a root naming its caller, a client to an
/// uninstrumented database, and a local span naming both sides.
fn remote_endpoints(base: u64) -> SpanSet {
    let id = "e0e0e0e0e0e0e0e1";
    let mut spans = Trace {
        id,
        prefix: 0xe0,
        base,
    }
    .rows(&[
        (1, None, "inventory", "GET /stock", "SERVER", 0, 3_000),
        (
            2,
            Some(1),
            "inventory",
            "SELECT stock",
            "CLIENT",
            100,
            1_000,
        ),
        (3, Some(1), "inventory", "cache get", "", 1_200, 200),
    ]);
    for span in &mut spans {
        span["localEndpoint"] =
            json!({"serviceName": "inventory", "ipv4": "10.0.0.7", "port": 8080});
    }
    spans[0]["remoteEndpoint"] =
        json!({"serviceName": "browser", "ipv4": "192.168.1.9", "port": 51234});
    spans[1]["remoteEndpoint"] =
        json!({"serviceName": "MySQL", "ipv6": "2001:db8::1", "port": 3306});
    spans[2]["remoteEndpoint"] = json!({"serviceName": "memcached"});
    SpanSet {
        name: "remote endpoints",
        batches: vec![spans],
    }
}

/// One span reported three times (the same again, then late without timing but with a
/// tag), and its child again with an annotation.
fn repeated_reports(base: u64) -> SpanSet {
    let id = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d1";
    let spans = Trace {
        id,
        prefix: 0xd0,
        base,
    }
    .rows(&[
        (1, None, "billing", "invoice", "SERVER", 0, 4_000),
        (2, Some(1), "billing", "render", "", 500, 2_000),
    ]);
    let (root, child) = (spans[0].clone(), spans[1].clone());
    let mut late = root.clone();
    if let Some(fields) = late.as_object_mut() {
        fields.remove("timestamp");
        fields.remove("duration");
    }
    late["tags"] = json!({"http.status_code": "503"});
    let mut child_again = child;
    child_again["annotations"] = json!([{"timestamp": base + 600, "value": "cache miss"}]);
    SpanSet {
        name: "repeated reports",
        batches: vec![spans, vec![root], vec![late], vec![child_again]],
    }
}

/// A server whose clock runs 50 ms behind its client's: its spans start before the call.
fn clock_skew(base: u64) -> SpanSet {
    let id = "5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c51";
    let mut spans = Trace {
        id,
        prefix: 0x5c,
        base,
    }
    .rows(&[
        (1, None, "gateway", "GET /report", "SERVER", 50_000, 8_000),
        (2, Some(1), "gateway", "GET /data", "CLIENT", 51_000, 5_000),
        (2, Some(1), "reports", "GET /data", "SERVER", 1_200, 4_600),
        (3, Some(2), "reports", "aggregate", "", 1_300, 4_000),
    ]);
    spans[2]["shared"] = json!(true);
    SpanSet {
        name: "clock-skewed children",
        batches: vec![spans],
    }
}

/// A message through a broker: producer and consumer spans naming it, and one that does
/// not; the consumer failed.
fn messaging(base: u64) -> SpanSet {
    let id = "3e3e3e3e3e3e3e31";
    let mut spans = Trace {
        id,
        prefix: 0x3e,
        base,
    }
    .rows(&[
        (1, None, "shop", "POST /order", "SERVER", 0, 2_000),
        (2, Some(1), "shop", "send", "PRODUCER", 100, 50),
        (3, Some(2), "billing", "receive", "CONSUMER", 900, 30),
        (4, Some(3), "billing", "forward", "PRODUCER", 950, 20),
    ]);
    spans[1]["remoteEndpoint"] = json!({"serviceName": "kafka"});
    spans[2]["remoteEndpoint"] = json!({"serviceName": "kafka"});
    spans[2]["tags"] = json!({"error": "poison"});
    SpanSet {
        name: "messaging",
        batches: vec![spans],
    }
}
