//! Tracing your own service: a small axum service of the test's own, traced by
//! `ZipkinLayer` and reporting through `AsyncReporter`, as a user would write it; each
//! scenario runs against the stand-in collector and against the real Zipkin (the jar), and
//! reads the stored trace back through the query API.
//!
//! - a handler edits its SERVER span with `with_current_span`: the stored span has the new
//!   name, the tag, the annotation and the handler's `error`, kept over a 500's status;
//! - `try_local_span` returning `Err` and an `#[instrument(err)]` function returning `Err`
//!   mark their own spans with `error`, and only those;
//! - work spawned with `tokio::spawn` nests under the request only when
//!   `ParentSpan::current().wrap` carries the span into it: without, its local span records
//!   nothing and its call starts a trace of its own;
//! - a service's calls to a database that records nothing (a traced call named with
//!   `Call::remote_service`, and a hand-made CLIENT span with `set_remote_service`) link
//!   the service to `db` in `/api/v2/dependencies`.
//!
//! Every test installs the tracing bridge as the process's global subscriber (the first
//! install wins, and each installs the same), which `#[instrument]` needs. Each scenario
//! names its service with a random suffix, so that tests sharing one Zipkin never read each
//! other's spans. The Zipkin tests need the jar (`scripts/zipkin-server fetch`); with
//! `CI=true` a missing jar or Java fails them, elsewhere each prints one skip line.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use itests::tree::{assert_child_of, assert_shared_pair, assert_within};
use itests::zipkin_queries::{get_json, now_millis, wait_for_link};
use itests::{
    NameMatch, StandInCollector, TraceTree, ZipkinApi, ZipkinServer, trace_id_of,
    wait_for_trace_within,
};
use tokio::net::TcpListener;
use zipkin_reporter::{AsyncReporter, ReporterConfig};
use zipkin_tracing::{
    Call, Kind, ParentSpan, Span, SpanId, TraceId, TracedRequest, Tracer, TracingBridge,
    ZipkinLayer, current_context, local_span, try_local_span, with_current_span,
};

const TEST: &str = "own_service";
/// How long a trace or a dependency link may take to be stored: the reporter's 1 s batches
/// and a busy machine.
const DEADLINE: Duration = Duration::from_secs(20);

fn install_bridge() {
    plumbing::init_logging("warn", Some(TracingBridge::new())).expect("the log filter");
}

/// Runs `scenario` against a fresh stand-in collector, comparing names exactly.
async fn in_the_stand_in<F, Fut>(scenario: F)
where
    F: FnOnce(ZipkinApi, NameMatch) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    install_bridge();
    let collector = StandInCollector::start()
        .await
        .expect("the stand-in starts");
    if let Err(error) = scenario(collector.api().clone(), NameMatch::Exact).await {
        panic!("against the stand-in: {error:#}");
    }
}

/// Runs `scenario` against the real Zipkin shared by this file's tests, comparing names
/// ignoring case (Zipkin lower-cases them); skips as the engine policy says.
async fn in_zipkin<F, Fut>(what: &str, scenario: F)
where
    F: FnOnce(ZipkinApi, NameMatch) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    install_bridge();
    let Some(zipkin) = ZipkinServer::shared_or_skip(TEST).await else {
        return;
    };
    let scenario = scenario(zipkin.api(), NameMatch::IgnoreCase);
    zipkin.assert_scenario(what, scenario).await;
}

/// A service name no other test uses: `prefix` and a random suffix, in lower case as
/// Zipkin stores it.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &SpanId::random().hex().as_ref()[..8])
}

/// A tracer for `service` reporting to `api`, and its reporter (to flush).
fn tracer(service: &str, api: &ZipkinApi) -> anyhow::Result<(Tracer, AsyncReporter)> {
    let reporter = AsyncReporter::start(ReporterConfig::http(api.spans_endpoint().parse()?))?;
    let tracer = Tracer::builder(service).reporter(reporter.clone()).build();
    Ok((tracer, reporter))
}

/// A socket on a free port, and the URL it will serve at.
async fn listener() -> anyhow::Result<(TcpListener, String)> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind 127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    Ok((listener, url))
}

/// Serves `app` on `listener` until the test's runtime ends.
fn serve(listener: TcpListener, app: Router) {
    tokio::spawn(async move { axum::serve(listener, app).await });
}

/// `body` with `status` and the current trace id in `x-trace-id`, as service1 answers, so
/// that the test can look the trace up.
fn answer(status: StatusCode, body: String) -> Response {
    let trace_id =
        current_context().map_or_else(String::new, |context| context.trace_id.to_string());
    (status, [("x-trace-id", trace_id)], body).into_response()
}

/// `GET url`, which must answer `status`; the trace id the service put in its answer.
async fn get_trace_id(url: &str, status: StatusCode) -> anyhow::Result<TraceId> {
    let response = reqwest::get(url)
        .await
        .with_context(|| format!("GET {url}"))?;
    anyhow::ensure!(
        response.status() == status,
        "GET {url} answered {}, not {status}",
        response.status()
    );
    trace_id_of(&response)
}

/// The `count` spans of trace `id`, as a tree comparing names with `names`.
async fn stored(
    api: &ZipkinApi,
    id: TraceId,
    count: usize,
    names: NameMatch,
) -> anyhow::Result<TraceTree> {
    let spans = wait_for_trace_within(api, id, count, DEADLINE).await?;
    Ok(TraceTree::new(spans).with_names(names))
}

fn annotations(span: &Span) -> Vec<&str> {
    span.annotations
        .iter()
        .map(|annotation| annotation.value.as_str())
        .collect()
}

fn remote_service(span: &Span) -> Option<&str> {
    span.remote_endpoint.as_ref()?.service_name.as_deref()
}

// ---------------------------------------------------------------------------------------
// A handler edits its SERVER span.

/// `GET /orders/{id}`: renames, tags, annotates and marks its SERVER span, answering 200.
async fn load_order(Path(id): Path<String>) -> Response {
    with_current_span(|span| {
        span.rename("load order");
        span.tag("order.id", id.clone());
        span.annotate("cache miss");
        span.error(format!("order {id} is archived"));
    });
    answer(StatusCode::OK, "archived".to_owned())
}

/// `GET /orders/{id}/pay`: the same edits, and a 500 whose status must not replace the
/// handler's `error`.
async fn pay_order(Path(id): Path<String>) -> Response {
    with_current_span(|span| {
        span.rename("pay order");
        span.tag("order.id", id);
        span.annotate("card checked");
        span.error("card declined");
    });
    answer(StatusCode::INTERNAL_SERVER_ERROR, "declined".to_owned())
}

async fn edited_server_span(api: ZipkinApi, names: NameMatch) -> anyhow::Result<()> {
    let service = unique("shop");
    let (tracer, _reporter) = tracer(&service, &api)?;
    let app = Router::new()
        .route("/orders/{id}", get(load_order))
        .route("/orders/{id}/pay", get(pay_order))
        .layer(ZipkinLayer::new(tracer));
    let (listener, url) = listener().await?;
    serve(listener, app);

    let loaded = get_trace_id(&format!("{url}/orders/42"), StatusCode::OK).await?;
    let paid = get_trace_id(
        &format!("{url}/orders/42/pay"),
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await?;

    let mut tree = stored(&api, loaded, 1, names).await?;
    let listing = tree.describe();
    // Found by its new name: unrenamed, it would be "GET /orders/{id}".
    let server = tree.take(&service, Some(Kind::Server), "load order");
    tree.finish();
    anyhow::ensure!(
        server.tag("order.id") == Some("42"),
        "the tag:\n{listing}{server:?}"
    );
    anyhow::ensure!(
        annotations(&server) == ["cache miss"],
        "the annotation:\n{server:?}"
    );
    anyhow::ensure!(
        server.tag("error") == Some("order 42 is archived"),
        "the handler's error on a 200:\n{server:?}"
    );
    anyhow::ensure!(
        server.tag("http.status_code").is_none() && server.tag("http.method") == Some("GET"),
        "the HTTP tags of a 200 stay as they were:\n{server:?}"
    );

    let mut tree = stored(&api, paid, 1, names).await?;
    let server = tree.take(&service, Some(Kind::Server), "pay order");
    tree.finish();
    anyhow::ensure!(
        server.tag("error") == Some("card declined"),
        "a 500 keeps the handler's error, not \"500\":\n{server:?}"
    );
    anyhow::ensure!(
        server.tag("http.status_code") == Some("500")
            && server.tag("order.id") == Some("42")
            && annotations(&server) == ["card checked"],
        "the status, tag and annotation of the 500:\n{server:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_handler_renames_tags_annotates_and_fails_its_server_span_in_the_stand_in() {
    in_the_stand_in(edited_server_span).await;
}

#[tokio::test]
async fn a_handler_renames_tags_annotates_and_fails_its_server_span_in_zipkin() {
    in_zipkin("a handler edits its SERVER span", edited_server_span).await;
}

// ---------------------------------------------------------------------------------------
// Failed local spans: `try_local_span` and `#[instrument(err)]`.

/// Work spelled with `#[instrument(err)]`: its `Err` marks its span.
#[tracing::instrument(err)]
async fn parse_quantity(text: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .map_err(|error| format!("quantity {text:?}: {error}"))
}

/// `GET /report`: a step that succeeds, one that fails, and an `#[instrument]`ed one that
/// fails; the handler copes and answers 200.
async fn report() -> Response {
    let template = try_local_span("load template", async { Ok::<_, String>("tpl") }).await;
    let rendered = try_local_span("render report", async {
        Err::<String, _>("template has no body".to_owned())
    })
    .await;
    let quantity = parse_quantity("many").await;
    let body = format!("{template:?} {rendered:?} {quantity:?}");
    answer(StatusCode::OK, body)
}

async fn failed_local_spans(api: ZipkinApi, names: NameMatch) -> anyhow::Result<()> {
    let service = unique("reports");
    let (tracer, _reporter) = tracer(&service, &api)?;
    let app = Router::new()
        .route("/report", get(report))
        .layer(ZipkinLayer::new(tracer));
    let (listener, url) = listener().await?;
    serve(listener, app);

    let id = get_trace_id(&format!("{url}/report"), StatusCode::OK).await?;
    let mut tree = stored(&api, id, 4, names).await?;
    let listing = tree.describe();
    let server = tree.take(&service, Some(Kind::Server), "GET /report");
    let loaded = tree.take(&service, None, "load template");
    let rendered = tree.take(&service, None, "render report");
    let parsed = tree.take(&service, None, "parse_quantity");
    tree.finish();
    for child in [&loaded, &rendered, &parsed] {
        assert_child_of(child, &server);
        assert_within(child, &server);
    }
    anyhow::ensure!(
        rendered.tag("error") == Some("template has no body"),
        "try_local_span's Err marks its span:\n{rendered:?}\n{listing}"
    );
    anyhow::ensure!(
        parsed.tag("error") == Some("quantity \"many\": invalid digit found in string"),
        "#[instrument(err)]'s Err marks its span:\n{parsed:?}\n{listing}"
    );
    anyhow::ensure!(
        loaded.tag("error").is_none() && server.tag("error").is_none(),
        "an Ok step and the request that coped stay unmarked:\n{loaded:?}\n{server:?}"
    );
    Ok(())
}

#[tokio::test]
async fn failed_local_and_instrumented_spans_carry_their_error_in_the_stand_in() {
    in_the_stand_in(failed_local_spans).await;
}

#[tokio::test]
async fn failed_local_and_instrumented_spans_carry_their_error_in_zipkin() {
    in_zipkin("failed local spans", failed_local_spans).await;
}

// ---------------------------------------------------------------------------------------
// Work spawned on another task.

/// A service whose `GET /checkout` spawns a task that sends a receipt (a local span around
/// a traced call to its own `GET /receipt`) and waits for it; `carried` says whether the
/// task is wrapped in `ParentSpan::current()`. `GET /receipt` answers the trace id it
/// runs in, and `/checkout` passes it on in `x-receipt-trace-id`.
async fn spawning_service(tracer: Tracer, carried: bool) -> anyhow::Result<String> {
    let (listener, url) = listener().await?;
    let receipt_url = format!("{url}/receipt");
    let checkout = move || {
        let receipt_url = receipt_url.clone();
        async move {
            let send_receipt = local_span("send receipt", async move {
                let response = reqwest::Client::new()
                    .get(&receipt_url)
                    .send_traced()
                    .await
                    .map_err(|error| error.to_string())?;
                response.text().await.map_err(|error| error.to_string())
            });
            let task = if carried {
                tokio::spawn(ParentSpan::current().wrap(send_receipt))
            } else {
                tokio::spawn(send_receipt)
            };
            let receipt_trace = match task.await {
                Ok(Ok(trace_id)) => trace_id,
                failed => return answer(StatusCode::BAD_GATEWAY, format!("{failed:?}")),
            };
            let mut response = answer(StatusCode::OK, "paid".to_owned());
            if let Ok(value) = receipt_trace.parse() {
                response.headers_mut().insert("x-receipt-trace-id", value);
            }
            response
        }
    };
    let receipt = || async {
        current_context().map_or_else(String::new, |context| context.trace_id.to_string())
    };
    let app = Router::new()
        .route("/checkout", get(checkout))
        .route("/receipt", get(receipt))
        .layer(ZipkinLayer::new(tracer));
    serve(listener, app);
    Ok(url)
}

/// `GET {url}/checkout`: the request's trace id and the one the receipt call ran in.
async fn checkout(url: &str) -> anyhow::Result<(TraceId, TraceId)> {
    let url = format!("{url}/checkout");
    let response = reqwest::get(&url)
        .await
        .with_context(|| format!("GET {url}"))?;
    anyhow::ensure!(
        response.status() == StatusCode::OK,
        "GET {url} answered {}",
        response.status()
    );
    let request = trace_id_of(&response)?;
    let receipt = response
        .headers()
        .get("x-receipt-trace-id")
        .context("no x-receipt-trace-id: /receipt ran in no trace")?
        .to_str()?
        .parse()?;
    Ok((request, receipt))
}

async fn spawned_work_carried(api: ZipkinApi, names: NameMatch) -> anyhow::Result<()> {
    let service = unique("checkout");
    let (tracer, _reporter) = tracer(&service, &api)?;
    let url = spawning_service(tracer, true).await?;
    let (request, receipt) = checkout(&url).await?;
    anyhow::ensure!(
        receipt == request,
        "the receipt call ran in trace {receipt}, not the request's {request}"
    );
    let mut tree = stored(&api, request, 4, names).await?;
    let server = tree.take(&service, Some(Kind::Server), "GET /checkout");
    let send = tree.take(&service, None, "send receipt");
    // A call named by nobody is named by its method alone.
    let client = tree.take(&service, Some(Kind::Client), "GET");
    let receipt_server = tree.take(&service, Some(Kind::Server), "GET /receipt");
    tree.finish();
    anyhow::ensure!(server.parent_id.is_none(), "{server:?}");
    assert_child_of(&send, &server);
    assert_child_of(&client, &send);
    assert_shared_pair(&client, &receipt_server);
    assert_within(&send, &server);
    assert_within(&client, &send);
    Ok(())
}

async fn spawned_work_not_carried(api: ZipkinApi, names: NameMatch) -> anyhow::Result<()> {
    let service = unique("checkout");
    let (tracer, reporter) = tracer(&service, &api)?;
    let start_ms = now_millis();
    let url = spawning_service(tracer, false).await?;
    let (request, receipt) = checkout(&url).await?;
    anyhow::ensure!(
        receipt != request,
        "the receipt call ran in the request's trace {request} though nothing carried it there"
    );
    // The request's trace: its SERVER span alone, no "send receipt", no CLIENT span.
    let mut tree = stored(&api, request, 1, names).await?;
    tree.take(&service, Some(Kind::Server), "GET /checkout");
    tree.finish();
    // The call went out without B3 headers: /receipt started a trace of its own.
    let mut tree = stored(&api, receipt, 1, names).await?;
    let receipt_server = tree.take(&service, Some(Kind::Server), "GET /receipt");
    tree.finish();
    anyhow::ensure!(
        receipt_server.parent_id.is_none() && !receipt_server.shared,
        "the uncarried call's server span is a root:\n{receipt_server:?}"
    );
    // Nothing else was recorded: not in these traces, not in any other.
    anyhow::ensure!(reporter.flush(DEADLINE).await, "the reporter did not flush");
    let query = format!(
        "/api/v2/traces?serviceName={service}&endTs={}&lookback={}&limit=100",
        now_millis() + 1,
        now_millis() + 1 - start_ms + 1000
    );
    let traces: Vec<Vec<Span>> = serde_json::from_value(get_json(&api, &query).await?)?;
    let found: BTreeSet<(TraceId, String)> = traces
        .iter()
        .flatten()
        .map(|span| {
            (
                span.trace_id,
                span.name.clone().unwrap_or_default().to_lowercase(),
            )
        })
        .collect();
    let expected: BTreeSet<(TraceId, String)> = [
        (request, "get /checkout".to_owned()),
        (receipt, "get /receipt".to_owned()),
    ]
    .into();
    anyhow::ensure!(
        found == expected && traces.iter().flatten().count() == 2,
        "{query}: expected only the two SERVER spans, found {found:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_spawned_task_carried_by_parent_span_nests_under_the_request_in_the_stand_in() {
    in_the_stand_in(spawned_work_carried).await;
}

#[tokio::test]
async fn a_spawned_task_carried_by_parent_span_nests_under_the_request_in_zipkin() {
    in_zipkin("a carried spawned task", spawned_work_carried).await;
}

#[tokio::test]
async fn a_spawned_task_not_carried_records_nothing_and_its_call_starts_a_trace_in_the_stand_in() {
    in_the_stand_in(spawned_work_not_carried).await;
}

#[tokio::test]
async fn a_spawned_task_not_carried_records_nothing_and_its_call_starts_a_trace_in_zipkin() {
    in_zipkin("an uncarried spawned task", spawned_work_not_carried).await;
}

// ---------------------------------------------------------------------------------------
// A service calling a database that records nothing.

/// A stand-in database: an untraced HTTP server, which records no span of its own.
async fn database() -> anyhow::Result<String> {
    let (listener, url) = listener().await?;
    let app = Router::new().route("/items/{id}", get(|| async { "a row" }));
    serve(listener, app);
    Ok(url)
}

async fn calls_to_db(api: ZipkinApi, names: NameMatch) -> anyhow::Result<()> {
    let service = unique("service2");
    let (tracer, reporter) = tracer(&service, &api)?;
    let db = database().await?;
    let handler_tracer = tracer.clone();
    let item = move |Path(id): Path<String>| {
        let (db, tracer) = (db.clone(), handler_tracer.clone());
        async move {
            // A traced call, named by its route and its callee.
            let call = Call::named("GET /items/{id}").remote_service("db");
            let row = reqwest::Client::new()
                .get(format!("{db}/items/{id}"))
                .send_traced_as(call)
                .await;
            // A hand-made CLIENT span, for a client library nothing traces.
            if let Some(parent) = current_context() {
                let mut span =
                    tracer.start(tracer.child(&parent), "select item", Some(Kind::Client));
                span.set_remote_service("db");
                span.tag("db.statement", "SELECT * FROM items WHERE id = ?");
                span.finish();
            }
            match row {
                Ok(_) => answer(StatusCode::OK, "item".to_owned()),
                Err(error) => answer(StatusCode::BAD_GATEWAY, error.to_string()),
            }
        }
    };
    let app = Router::new()
        .route("/items/{id}", get(item))
        .layer(ZipkinLayer::new(tracer));
    let (listener, url) = listener().await?;
    serve(listener, app);

    let start_ms = now_millis();
    let id = get_trace_id(&format!("{url}/items/7"), StatusCode::OK).await?;
    let mut tree = stored(&api, id, 3, names).await?;
    let listing = tree.describe();
    let server = tree.take(&service, Some(Kind::Server), "GET /items/{id}");
    let call = tree.take(&service, Some(Kind::Client), "GET /items/{id}");
    let select = tree.take(&service, Some(Kind::Client), "select item");
    tree.finish();
    for client in [&call, &select] {
        assert_child_of(client, &server);
        anyhow::ensure!(
            remote_service(client) == Some("db"),
            "a CLIENT span names db as its remote service:\n{client:?}\n{listing}"
        );
    }
    anyhow::ensure!(
        call.remote_endpoint.as_ref().and_then(|e| e.port).is_some(),
        "naming the remote service keeps the address called:\n{call:?}"
    );
    anyhow::ensure!(reporter.flush(DEADLINE).await, "the reporter did not flush");

    // Both CLIENT spans are calls from this service to db, which recorded nothing: the
    // linker names the callee from their remote endpoint.
    wait_for_link(&api, &service, "db", 2, start_ms).await
}

#[tokio::test]
async fn calls_to_a_database_that_records_nothing_link_the_service_to_db_in_the_stand_in() {
    in_the_stand_in(calls_to_db).await;
}

#[tokio::test]
async fn calls_to_a_database_that_records_nothing_link_the_service_to_db_in_zipkin() {
    in_zipkin("calls to db", calls_to_db).await;
}
