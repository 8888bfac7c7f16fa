//! The HTTP tags every client and server span carries, as Brave sets them.
//! `http.method` and `http.path` (without the query string) on every span;
//! `http.status_code` only when the status is not 2xx, since success is the common case;
//! and `error` when the status is 400 or more (its value is the code) or the call failed
//! (its value says how), unless the handler marked one itself. Zipkin's UI colours spans with an `error` tag red.

use http::{Method, StatusCode};

use crate::record::Text;
use crate::span::OpenSpan;

pub(crate) const METHOD: &str = "http.method";
pub(crate) const PATH: &str = "http.path";
pub(crate) const STATUS_CODE: &str = "http.status_code";
pub(crate) const ERROR: &str = "error";

/// Tags what is known when a request starts.
pub(crate) fn request(span: &mut OpenSpan, method: &Method, path: &str) {
    if span.is_recording() {
        span.tag(METHOD, method_text(method));
        span.tag(PATH, path.to_owned());
    }
}

/// Tags the response status.
pub(crate) fn response(span: &mut OpenSpan, status: StatusCode) {
    if status.is_success() || !span.is_recording() {
        return;
    }
    let code = status.as_str().to_owned();
    // An error the code already described (`OpenSpan::error`) says more than its status.
    if status.as_u16() >= 400 && !span.has_tag(ERROR) {
        span.tag(ERROR, code.clone());
    }
    span.tag(STATUS_CODE, code);
}

/// The method's name, without a copy for the standard methods.
pub(crate) fn method_text(method: &Method) -> Text {
    let name = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return Text::Owned(method.as_str().to_owned()),
    };
    Text::Borrowed(name)
}
