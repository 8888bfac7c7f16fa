//! Why a reporter refuses its settings or cannot start: one error type, [`ReporterError`],
//! for a destination or headers that do not parse, a size of zero, or a thread that cannot
//! start.

/// The reporter cannot start with this configuration.
#[derive(Debug, thiserror::Error)]
pub enum ReporterError {
    /// A destination's text is malformed: not an `http://` URL with a path, an `amqp://`
    /// URI, a `host:port` list, or a legal queue or topic name. Says what is wrong.
    #[error("{0}")]
    BadDestination(String),
    /// The extra HTTP headers are malformed, or set where nothing is sent over HTTP. Says
    /// what is wrong, never a header's value.
    #[error("bad Zipkin HTTP headers: {0}")]
    BadHeaders(String),
    /// The compression is not `none` or `gzip`, or is set where nothing is sent over
    /// HTTP.
    #[error("bad Zipkin HTTP compression: {0}")]
    BadCompression(String),
    /// A size setting is zero.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The reporter's thread or its runtime could not be started.
    #[error("cannot start the reporter's thread: {0}")]
    Thread(#[source] std::io::Error),
}
