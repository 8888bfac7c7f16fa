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

/// A local span of `service`, without timing yet.
fn span(trace: &str, id: &str, parent: Option<&str>, service: &str, name: &str) -> Value {
    let mut span = json!({
        "traceId": trace,
        "id": id,
        "name": name,
        "localEndpoint": { "serviceName": service },
    });
    if let Some(parent) = parent {
        span["parentId"] = json!(parent);
    }
    span
}

/// Sets `timestamp` (`base` + `offset`) and `duration` on `span`.
fn timed(mut span: Value, base: u64, offset: u64, duration: u64) -> Value {
    span["timestamp"] = json!(base + offset);
    span["duration"] = json!(duration);
    span
}

/// Sets `field` to `value` on `span`.
fn with(mut span: Value, field: &str, value: Value) -> Value {
    span[field] = value;
    span
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

/// A client and the server that joined its span (`shared`), with mixed-case names and an
/// `error` tag on the server half.
fn shared(base: u64) -> SpanSet {
    let t = "5a1ed000000000000000000000000001";
    let root = timed(
        span(t, "5a00000000000001", None, "Frontend", "GET /Checkout"),
        base,
        0,
        10_000,
    );
    let client = timed(
        span(
            t,
            "5a00000000000002",
            Some("5a00000000000001"),
            "Frontend",
            "POST /pay",
        ),
        base,
        1_000,
        5_000,
    );
    let client = with(
        with(client, "kind", json!("CLIENT")),
        "tags",
        json!({"http.method": "POST"}),
    );
    let server = timed(
        span(
            t,
            "5a00000000000002",
            Some("5a00000000000001"),
            "payments",
            "POST /pay",
        ),
        base,
        1_100,
        4_800,
    );
    let server = with(with(server, "kind", json!("SERVER")), "shared", json!(true));
    let server = with(
        server,
        "tags",
        json!({"http.method": "POST", "error": "card declined"}),
    );
    let charge = timed(
        span(
            t,
            "5a00000000000003",
            Some("5a00000000000002"),
            "payments",
            "charge",
        ),
        base,
        1_200,
        4_000,
    );
    SpanSet {
        name: "shared client/server span",
        batches: vec![vec![
            with(root, "kind", json!("SERVER")),
            client,
            server,
            charge,
        ]],
    }
}

/// The root never arrived; a server is a plain child of its client (which failed), and a
/// client deeper down is on a third service.
fn missing_parents(base: u64) -> SpanSet {
    let t = "0000000000000b0b";
    let kind = |span: Value, kind: &str| with(span, "kind", json!(kind));
    let client = kind(
        timed(
            span(
                t,
                "b000000000000012",
                Some("b0000000000000ff"),
                "web",
                "call api",
            ),
            base,
            0,
            900,
        ),
        "CLIENT",
    );
    let client = with(client, "tags", json!({"error": "timeout"}));
    let server = kind(
        timed(
            span(
                t,
                "b000000000000013",
                Some("b000000000000012"),
                "api",
                "get /items",
            ),
            base,
            50,
            800,
        ),
        "SERVER",
    );
    let lonely = kind(
        timed(
            span(
                t,
                "b000000000000014",
                Some("b0000000000000fe"),
                "web",
                "call nothing",
            ),
            base,
            60,
            10,
        ),
        "CLIENT",
    );
    let hop = kind(
        timed(
            span(
                t,
                "b000000000000015",
                Some("b000000000000013"),
                "cache",
                "get",
            ),
            base,
            100,
            300,
        ),
        "CLIENT",
    );
    let hop = with(hop, "remoteEndpoint", json!({"serviceName": "redis"}));
    SpanSet {
        name: "missing parents",
        batches: vec![vec![client, server, lonely, hop]],
    }
}

/// A 64-bit trace id and a 128-bit one whose low half is the same.
fn id_widths(base: u64) -> SpanSet {
    let short = "00000000000000ab";
    let long = "00000000000000cd00000000000000ab";
    let root = timed(
        span(short, "ab00000000000001", None, "ids", "old tracer"),
        base,
        0,
        2_000,
    );
    let call = timed(
        span(
            short,
            "ab00000000000002",
            Some("ab00000000000001"),
            "ids",
            "query",
        ),
        base,
        100,
        1_000,
    );
    let call = with(
        with(call, "kind", json!("CLIENT")),
        "remoteEndpoint",
        json!({"serviceName": "legacy"}),
    );
    let other = timed(
        span(long, "cd00000000000001", None, "ids", "new tracer"),
        base,
        200,
        3_000,
    );
    SpanSet {
        name: "64- and 128-bit trace ids",
        batches: vec![vec![
            with(root, "kind", json!("SERVER")),
            call,
            with(other, "kind", json!("SERVER")),
        ]],
    }
}

/// Annotations (events with a time) beside tags, for `annotationQuery`.
fn annotations(base: u64) -> SpanSet {
    let t = "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a1";
    let root = timed(
        span(t, "a0a0000000000001", None, "worker", "process job"),
        base,
        0,
        6_000,
    );
    let root = with(
        root,
        "annotations",
        json!([
            {"timestamp": base + 1_000, "value": "retried"},
            {"timestamp": base + 10, "value": "queued"},
        ]),
    );
    let root = with(root, "tags", json!({"job.kind": "export", "attempt": "2"}));
    let step = timed(
        span(
            t,
            "a0a0000000000002",
            Some("a0a0000000000001"),
            "worker",
            "write file",
        ),
        base,
        2_000,
        3_000,
    );
    let step = with(
        step,
        "annotations",
        json!([{"timestamp": base + 2_500, "value": "flushed"}]),
    );
    SpanSet {
        name: "annotations and tags",
        batches: vec![vec![root, step]],
    }
}

/// Remote endpoints with addresses and ports: a root naming its caller, a client to an
/// uninstrumented database, and a local span naming both sides.
fn remote_endpoints(base: u64) -> SpanSet {
    let t = "e0e0e0e0e0e0e0e1";
    let local = json!({"serviceName": "inventory", "ipv4": "10.0.0.7", "port": 8080});
    let root = timed(
        span(t, "e000000000000001", None, "inventory", "GET /stock"),
        base,
        0,
        3_000,
    );
    let root = with(
        with(root, "kind", json!("SERVER")),
        "localEndpoint",
        local.clone(),
    );
    let root = with(
        root,
        "remoteEndpoint",
        json!({"serviceName": "browser", "ipv4": "192.168.1.9", "port": 51234}),
    );
    let query = timed(
        span(
            t,
            "e000000000000002",
            Some("e000000000000001"),
            "inventory",
            "SELECT stock",
        ),
        base,
        100,
        1_000,
    );
    let query = with(
        with(query, "kind", json!("CLIENT")),
        "localEndpoint",
        local.clone(),
    );
    let query = with(
        query,
        "remoteEndpoint",
        json!({"serviceName": "MySQL", "ipv6": "2001:db8::1", "port": 3306}),
    );
    let cache = timed(
        span(
            t,
            "e000000000000003",
            Some("e000000000000001"),
            "inventory",
            "cache get",
        ),
        base,
        1_200,
        200,
    );
    let cache = with(
        with(cache, "localEndpoint", local),
        "remoteEndpoint",
        json!({"serviceName": "memcached"}),
    );
    SpanSet {
        name: "remote endpoints",
        batches: vec![vec![root, query, cache]],
    }
}

/// One span reported four times: identical, then late without timing but with a tag, and
/// its child again with an annotation.
fn repeated_reports(base: u64) -> SpanSet {
    let t = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d1";
    let root = timed(
        span(t, "d000000000000001", None, "billing", "invoice"),
        base,
        0,
        4_000,
    );
    let root = with(root, "kind", json!("SERVER"));
    let child = timed(
        span(
            t,
            "d000000000000002",
            Some("d000000000000001"),
            "billing",
            "render",
        ),
        base,
        500,
        2_000,
    );
    let mut late = root.clone();
    late.as_object_mut()
        .map(|object| (object.remove("timestamp"), object.remove("duration")));
    let late = with(late, "tags", json!({"http.status_code": "503"}));
    let child_again = with(
        child.clone(),
        "annotations",
        json!([{"timestamp": base + 600, "value": "cache miss"}]),
    );
    SpanSet {
        name: "repeated reports",
        batches: vec![
            vec![root.clone(), child],
            vec![root],
            vec![late],
            vec![child_again],
        ],
    }
}

/// A server whose clock runs 50 ms behind its client's: its spans start before the call.
fn clock_skew(base: u64) -> SpanSet {
    let t = "5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c51";
    let root = timed(
        span(t, "5c00000000000001", None, "gateway", "GET /report"),
        base,
        50_000,
        8_000,
    );
    let client = timed(
        span(
            t,
            "5c00000000000002",
            Some("5c00000000000001"),
            "gateway",
            "GET /data",
        ),
        base,
        51_000,
        5_000,
    );
    let server = timed(
        span(
            t,
            "5c00000000000002",
            Some("5c00000000000001"),
            "reports",
            "GET /data",
        ),
        base,
        1_200,
        4_600,
    );
    let inner = timed(
        span(
            t,
            "5c00000000000003",
            Some("5c00000000000002"),
            "reports",
            "aggregate",
        ),
        base,
        1_300,
        4_000,
    );
    SpanSet {
        name: "clock-skewed children",
        batches: vec![vec![
            with(root, "kind", json!("SERVER")),
            with(client, "kind", json!("CLIENT")),
            with(with(server, "kind", json!("SERVER")), "shared", json!(true)),
            inner,
        ]],
    }
}

/// A message through a broker: producer and consumer spans naming it, and one that does not.
fn messaging(base: u64) -> SpanSet {
    let t = "3e3e3e3e3e3e3e31";
    let kind = |span: Value, kind: &str| with(span, "kind", json!(kind));
    let root = kind(
        timed(
            span(t, "3e00000000000001", None, "shop", "POST /order"),
            base,
            0,
            2_000,
        ),
        "SERVER",
    );
    let send = kind(
        timed(
            span(
                t,
                "3e00000000000002",
                Some("3e00000000000001"),
                "shop",
                "send",
            ),
            base,
            100,
            50,
        ),
        "PRODUCER",
    );
    let send = with(send, "remoteEndpoint", json!({"serviceName": "kafka"}));
    let receive = kind(
        timed(
            span(
                t,
                "3e00000000000003",
                Some("3e00000000000002"),
                "billing",
                "receive",
            ),
            base,
            900,
            30,
        ),
        "CONSUMER",
    );
    let receive = with(
        with(receive, "remoteEndpoint", json!({"serviceName": "kafka"})),
        "tags",
        json!({"error": "poison"}),
    );
    let forward = kind(
        timed(
            span(
                t,
                "3e00000000000004",
                Some("3e00000000000003"),
                "billing",
                "forward",
            ),
            base,
            950,
            20,
        ),
        "PRODUCER",
    );
    SpanSet {
        name: "messaging",
        batches: vec![vec![root, send, receive, forward]],
    }
}
