//! A wiremock stand-in for service2 that records what service1 sends it.
//!
//! Pointing service1 at it shows the B3 headers of service1's outgoing call, even when the
//! trace is unsampled and nothing is reported. It answers `GET /service/` with `200 OK`.

use anyhow::Context as _;
use wiremock::http::HeaderMap;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A fake service2 that answers `GET /service/` and keeps the request headers.
#[derive(Debug)]
pub struct Service2StandIn {
    server: MockServer,
}

impl Service2StandIn {
    /// Starts the stand-in on a free local port.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/service/"))
            .respond_with(ResponseTemplate::new(200).set_body_string("OK"))
            .mount(&server)
            .await;
        Service2StandIn { server }
    }

    /// The base URL to give service1 as `SERVICE2_URL`.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// The headers of each `GET /service/` received so far, in order.
    pub async fn received_headers(&self) -> anyhow::Result<Vec<HeaderMap>> {
        let requests = self
            .server
            .received_requests()
            .await
            .context("wiremock was started without request recording")?;
        Ok(requests
            .into_iter()
            .filter(|request| request.url.path() == "/service/")
            .map(|request| request.headers)
            .collect())
    }
}

/// The value of header `name` as text, if present and printable.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}
