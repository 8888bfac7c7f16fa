//! Router tests at TIME_SCALE=0 against an in-process service2 (or a broken stand-in).

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tokio::net::TcpListener;
use tower::ServiceExt;
use zipkin_tracing::{InMemoryReporter, Kind, Span, Tracer};

use super::*;

/// Serves `router` on an ephemeral loopback port; returns its base URL.
async fn spawn(router: Router) -> reqwest::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("http://{address}").parse().unwrap()
}

fn service1(reporter: &InMemoryReporter, service2: &reqwest::Url, timeout: Duration) -> Router {
    let tracer = Tracer::builder(SERVICE_NAME)
        .reporter(reporter.clone())
        .build();
    app(AppState::new(tracer, service2, timeout, 0.0).unwrap())
}

async fn get_root(router: Router) -> (StatusCode, Option<String>, String) {
    let request = Request::get("/").body(Body::empty()).unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let trace_id = response
        .headers()
        .get(TRACE_ID_HEADER)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    (status, trace_id, String::from_utf8(body.to_vec()).unwrap())
}

fn named<'a>(spans: &'a [Span], name: &str, kind: Option<Kind>) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name.as_deref() == Some(name) && s.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} span {name} in {spans:#?}"))
}

#[tokio::test]
async fn the_article_chain_gives_six_spans_in_one_trace() {
    let reporter = InMemoryReporter::new();
    let tracer2 = Tracer::builder(service2::SERVICE_NAME)
        .reporter(reporter.clone())
        .build();
    let url = spawn(service2::app(service2::AppState {
        tracer: tracer2,
        time_scale: 0.0,
        instrument: false,
    }))
    .await;

    let (status, trace_id, body) =
        get_root(service1(&reporter, &url, Duration::from_secs(10))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "OK"));

    let spans = reporter.spans();
    assert_eq!(spans.len(), 6, "{spans:#?}");
    let root = named(&spans, "GET /", Some(Kind::Server));
    let work1 = named(&spans, "service_1_do_stuff", None);
    let client = named(&spans, "GET /service/", Some(Kind::Client));
    let server = named(&spans, "GET /service/", Some(Kind::Server));
    let work2 = named(&spans, "service_2_do_stuff", None);
    let db = named(&spans, "db_search", None);

    assert_eq!(trace_id, Some(root.trace_id.to_string()));
    assert!(spans.iter().all(|s| s.trace_id == root.trace_id));
    assert_eq!(root.parent_id, None);
    assert_eq!(work1.parent_id, Some(root.id));
    assert_eq!(client.parent_id, Some(work1.id));
    assert_eq!((server.id, server.parent_id), (client.id, client.parent_id));
    assert!(server.shared && !client.shared);
    assert_eq!(work2.parent_id, Some(server.id));
    assert_eq!(db.parent_id, Some(work2.id));
    for span in [root, work1, client] {
        assert_eq!(span.service_name(), Some(SERVICE_NAME));
    }
    for span in [server, work2, db] {
        assert_eq!(span.service_name(), Some(service2::SERVICE_NAME));
    }
    // The client span records the server it reached.
    let remote = client.remote_endpoint.as_ref().unwrap();
    assert_eq!(remote.port, url.port());
    assert_eq!(remote.ipv4, Some(std::net::Ipv4Addr::LOCALHOST));
    assert_eq!(client.tag("http.path"), Some("/service/"));
    assert_eq!(client.tag("error"), None);
}

#[tokio::test]
async fn service2_refusing_connections_gives_502_and_an_error_on_the_client_span() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap()
    };
    let reporter = InMemoryReporter::new();
    let (status, trace_id, body) =
        get_root(service1(&reporter, &closed, Duration::from_secs(10))).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(body.starts_with("service2 is unavailable"), "{body}");
    assert!(trace_id.is_some());

    let spans = reporter.spans();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let client = named(&spans, "GET /service/", Some(Kind::Client));
    let error = client.tag("error").unwrap();
    assert!(error.to_lowercase().contains("refused"), "{error}");
    let root = named(&spans, "GET /", Some(Kind::Server));
    assert_eq!(root.tag("http.status_code"), Some("502"));
    assert_eq!(root.tag("error"), Some("502"));
}

#[tokio::test]
async fn service2_answering_500_gives_502() {
    let failing = Router::new().route(
        "/service/",
        get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
    );
    let url = spawn(failing).await;
    let reporter = InMemoryReporter::new();
    let (status, _, body) = get_root(service1(&reporter, &url, Duration::from_secs(10))).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(body.contains("500"), "{body}");
    let spans = reporter.spans();
    let client = named(&spans, "GET /service/", Some(Kind::Client));
    assert_eq!(client.tag("http.status_code"), Some("500"));
    assert_eq!(client.tag("error"), Some("500"));
}

#[tokio::test]
async fn service2_too_slow_gives_504() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url: reqwest::Url = format!("http://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let reporter = InMemoryReporter::new();
    let started = std::time::Instant::now();
    let (status, _, body) = get_root(service1(&reporter, &url, Duration::from_millis(200))).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let spans = reporter.spans();
    let client = named(&spans, "GET /service/", Some(Kind::Client));
    assert!(
        client.tag("error").unwrap().contains("timed out"),
        "{client:?}"
    );
    hold.abort();
}

#[tokio::test]
async fn health_answers_and_is_not_traced() {
    let reporter = InMemoryReporter::new();
    let url = "http://127.0.0.1:9".parse().unwrap();
    let request = Request::get("/health").body(Body::empty()).unwrap();
    let response = service1(&reporter, &url, Duration::from_secs(1))
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(TRACE_ID_HEADER).is_none());
    assert!(reporter.spans().is_empty());
}

#[test]
fn bad_settings_are_rejected_with_their_name() {
    for (flag, value) in [
        ("--service2-url", "service2:6000"),
        ("--service2-url", "https://service2:6000"),
        ("--zipkin-endpoint", "http://zipkin:9411"),
        ("--client-timeout-secs", "0"),
        ("--time-scale", "fast"),
        ("--bind", "localhost"),
    ] {
        let err = Config::try_parse_from(["service1", flag, value]).unwrap_err();
        assert!(err.to_string().contains(flag), "{flag}: {err}");
    }
    let config = Config::try_parse_from(["service1"]).unwrap();
    assert_eq!(
        config.service.address(config.port).to_string(),
        "127.0.0.1:5000"
    );
    assert_eq!(config.service2_url.as_str(), "http://127.0.0.1:6000/");
    assert_eq!(
        config.service.tracing.zipkin_endpoint.to_string(),
        "http://127.0.0.1:9411/api/v2/spans"
    );
    assert_eq!(config.service.tracing.sample_rate.rate(), 1.0);
}

#[tokio::test]
async fn the_routes_alone_call_service2_untraced_and_record_nothing() {
    let reporter = InMemoryReporter::new();
    let tracer2 = Tracer::builder(service2::SERVICE_NAME)
        .reporter(reporter.clone())
        .build();
    let url = spawn(service2::routes().with_state(service2::AppState {
        tracer: tracer2,
        time_scale: 0.0,
        instrument: false,
    }))
    .await;
    let tracer1 = Tracer::builder(SERVICE_NAME)
        .reporter(reporter.clone())
        .build();
    let state = AppState::new(tracer1, &url, Duration::from_secs(5), 0.0).unwrap();
    let (status, trace_id, body) = get_root(routes().with_state(state)).await;
    assert_eq!(
        (status, trace_id, body.as_str()),
        (StatusCode::OK, None, "OK")
    );
    assert!(reporter.spans().is_empty(), "{:#?}", reporter.spans());
}
