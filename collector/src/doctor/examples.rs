//! Example traces, one per mistake and a few healthy look-alikes, each with the rule ids
//! the doctor must find in it. They are the article's trace as the demo reported it, with
//! one thing changed, so each reads as a mistake a user could make in that code. Tests use
//! them on raw span lists, through the stand-in and through the real Zipkin.

use zipkin_tracing::{Annotation, Endpoint, Kind, Span, SpanId, TraceId};

/// The article's trace from a run of the demo at `--time-scale 0.05`, as the stand-in
/// collector returned it.
const ARTICLE: &str = r#"[
{"traceId":"f0571d82cda70c06517c01898f079b02","id":"1c48ef4f8cef2f69","kind":"SERVER","name":"GET /","timestamp":1796623196163508,"duration":358437,"localEndpoint":{"serviceName":"service1"},"remoteEndpoint":{"ipv4":"127.0.0.1","port":44470},"tags":{"http.method":"GET","http.path":"/"}},
{"traceId":"f0571d82cda70c06517c01898f079b02","parentId":"1c48ef4f8cef2f69","id":"6b115b4cc3545b8c","name":"service_1_do_stuff","timestamp":1796623196163584,"duration":306724,"localEndpoint":{"serviceName":"service1"}},
{"traceId":"f0571d82cda70c06517c01898f079b02","parentId":"6b115b4cc3545b8c","id":"994879b1adbb153c","kind":"CLIENT","name":"GET /service/","timestamp":1796623196265341,"duration":204871,"localEndpoint":{"serviceName":"service1"},"remoteEndpoint":{"ipv4":"127.0.0.1","port":42903},"tags":{"http.method":"GET","http.path":"/service/"}},
{"traceId":"f0571d82cda70c06517c01898f079b02","parentId":"6b115b4cc3545b8c","id":"994879b1adbb153c","kind":"SERVER","name":"GET /service/","timestamp":1796623196266389,"duration":203263,"shared":true,"localEndpoint":{"serviceName":"service2"},"remoteEndpoint":{"ipv4":"127.0.0.1","port":43442},"tags":{"http.method":"GET","http.path":"/service/"}},
{"traceId":"f0571d82cda70c06517c01898f079b02","parentId":"994879b1adbb153c","id":"3d6cc9f09bd4906b","name":"service_2_do_stuff","timestamp":1796623196266427,"duration":203180,"localEndpoint":{"serviceName":"service2"}},
{"traceId":"f0571d82cda70c06517c01898f079b02","parentId":"3d6cc9f09bd4906b","id":"c2c1d368ffc142a8","name":"db_search","timestamp":1796623196367983,"duration":101583,"localEndpoint":{"serviceName":"service2"}}
]"#;

/// Indexes of the article's spans in [`ARTICLE`].
const ROOT: usize = 0;
const SERVER2: usize = 3;
const DO_STUFF2: usize = 4;
const DB_SEARCH: usize = 5;

/// A trace (and the traces beside it) with the rule ids the doctor finds in it.
#[derive(Debug, Clone)]
pub struct Example {
    /// What it shows, e.g. `"orphan task"`.
    pub name: &'static str,
    /// The trace's spans, as reported (repeated reports included).
    pub spans: Vec<Span>,
    /// Other traces of the same moment, to pass to [`diagnose`](super::diagnose).
    pub neighbours: Vec<Vec<Span>>,
    /// The rule ids of its findings, in the order [`diagnose`](super::diagnose) lists them.
    pub expected: Vec<&'static str>,
}

/// The article's six spans.
pub fn article() -> Vec<Span> {
    serde_json::from_str(ARTICLE).expect("ARTICLE is a valid list of v2 spans")
}

/// Every example; the first is the healthy article.
pub fn examples() -> Vec<Example> {
    let example = |name, spans, expected: &[&'static str]| Example {
        name,
        spans,
        neighbours: Vec::new(),
        expected: expected.to_vec(),
    };
    let mut list = vec![example("healthy article", article(), &[])];

    // service_2_do_stuff was never reported: db_search's parent is missing.
    let mut orphan = article();
    orphan.remove(DO_STUFF2);
    list.push(example("orphan task", orphan, &["context-lost"]));

    // service1 called without B3 headers: service2's three spans are a trace of their own.
    let mut caller = article();
    let callee_spans: Vec<Span> = caller.drain(SERVER2..).collect();
    let callee = new_trace(callee_spans, "463ac35c9f6413ad48485a3953bb6124");
    list.push(example(
        "headers lost, seen alone",
        caller.clone(),
        &["dependency-hole"],
    ));
    let mut lost = example("headers lost", caller, &["headers-lost"]);
    lost.neighbours = vec![callee];
    list.push(lost);

    // service2's clock is 50 ms behind service1's.
    let mut skewed = article();
    for span in &mut skewed[SERVER2..] {
        span.timestamp = span.timestamp.map(|ts| ts - 50_000);
    }
    list.push(example("clock skew", skewed, &["clock-skew"]));
    // service2's clock is 5 ms ahead: its server starts in time but ends after the client.
    let mut late_server = article();
    for span in &mut late_server[SERVER2..] {
        span.timestamp = span.timestamp.map(|ts| ts + 5_000);
    }
    list.push(example("late server", late_server, &["clock-skew"]));
    // db_search publishes a message that service3 consumes after the publish returned.
    let mut hop = article();
    let mut publish = child(&hop[DB_SEARCH], 0xf1, "publish", Some(Kind::Producer));
    publish.remote_endpoint = Some(Endpoint::service("rabbitmq"));
    let mut consume = child(&publish, 0xf2, "consume", Some(Kind::Consumer));
    consume.local_endpoint = Some(Endpoint::service("service3"));
    consume.remote_endpoint = Some(Endpoint::service("rabbitmq"));
    consume.timestamp = publish.timestamp.map(|ts| ts + 20_000);
    hop.extend([publish.clone(), consume.clone()]);
    list.push(example("message hop", hop, &[]));
    // service3's clock is 30 ms behind: it consumes the message before it was sent.
    let mut early_consumer = article();
    consume.timestamp = publish.timestamp.map(|ts| ts - 30_000);
    early_consumer.extend([publish, consume]);
    list.push(example(
        "consumer before producer",
        early_consumer,
        &["clock-skew"],
    ));
    // One host's child ending a microsecond after its parent is rounding, not skew.
    let mut rounded = article();
    let parent_end = rounded[DO_STUFF2].timestamp.unwrap_or(0) + 203_180;
    let start = rounded[DB_SEARCH].timestamp.unwrap_or(0);
    rounded[DB_SEARCH].duration = Some(parent_end + 1 - start);
    list.push(example("local rounding", rounded, &[]));

    let mut unshared = article();
    unshared[SERVER2].shared = false;
    list.push(example("unshared join", unshared, &["unshared-join"]));

    let mut raw_path = article();
    raw_path[ROOT].name = Some("GET /items/42".into());
    list.push(example("id in name", raw_path, &["id-in-name"]));

    // db_search calls a database that is neither traced nor named.
    let mut database = article();
    let mut query = child(&database[DB_SEARCH], 0xd8, "select", Some(Kind::Client));
    database.push(query.clone());
    list.push(example("untraced database", database, &["dependency-hole"]));
    let mut named = article();
    query.remote_endpoint = Some(Endpoint::service("mariadb"));
    named.push(query);
    list.push(example("named database", named, &[]));

    let mut millis = article();
    millis[DB_SEARCH].timestamp = millis[DB_SEARCH].timestamp.map(|ts| ts / 1000);
    list.push(example("milliseconds", millis, &["timestamp-unit"]));
    let mut nanos = article();
    nanos[DB_SEARCH].timestamp = nanos[DB_SEARCH].timestamp.map(|ts| ts * 1000);
    list.push(example("nanoseconds", nanos, &["timestamp-unit"]));

    let mut zero = article();
    zero[DB_SEARCH].duration = Some(0);
    list.push(example("zero duration", zero, &["zero-duration"]));
    let mut unfinished = article();
    unfinished[DB_SEARCH].duration = None;
    list.push(example("missing duration", unfinished, &["zero-duration"]));
    let mut marker = article();
    let mut event = child(&marker[DB_SEARCH], 0xe1, "cache_miss", None);
    event.duration = None;
    event.annotations.push(Annotation {
        timestamp: event.timestamp.unwrap_or(0),
        value: "cache.miss".into(),
    });
    marker.push(event);
    list.push(example("annotation marker", marker, &[]));

    // db_search recorded twice: a retry re-used its span.
    let mut repeated = article();
    let mut again = repeated[DB_SEARCH].clone();
    again.timestamp = again.timestamp.map(|ts| ts + 2_000);
    again.duration = Some(99_000);
    repeated.push(again);
    list.push(example("repeated report", repeated, &["repeated-report"]));
    // A late report that only adds a tag is normal.
    let mut late = article();
    let mut tag_only = Span::new(late[DB_SEARCH].trace_id, late[DB_SEARCH].id);
    tag_only.local_endpoint = late[DB_SEARCH].local_endpoint.clone();
    tag_only.tags.insert("db.rows".into(), "3".into());
    late.push(tag_only);
    list.push(example("late tag", late, &[]));
    list
}

/// `spans` moved to the trace `id`, their root's parent dropped.
fn new_trace(mut spans: Vec<Span>, id: &str) -> Vec<Span> {
    let id: TraceId = id.parse().expect("a valid trace id");
    for span in &mut spans {
        span.trace_id = id;
    }
    spans[0].parent_id = None;
    spans[0].shared = false;
    spans
}

/// A span of `parent`'s service inside it, starting 1 ms in and lasting 5 ms.
fn child(parent: &Span, id: u64, name: &str, kind: Option<Kind>) -> Span {
    let mut span = Span::new(parent.trace_id, SpanId::new(id).expect("a non-zero id"));
    span.parent_id = Some(parent.id);
    span.name = Some(name.into());
    span.kind = kind;
    span.timestamp = parent.timestamp.map(|ts| ts + 1_000);
    span.duration = Some(5_000);
    span.local_endpoint = parent.local_endpoint.clone();
    span
}
