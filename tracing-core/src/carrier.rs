//! Carriers: where a trace context travels besides HTTP request headers. A message's
//! headers (AMQP properties, Kafka record headers) are string-keyed maps; any type that can
//! get and set a string by key carries B3 ([`extract_from`], [`inject_into`]), as Brave's
//! `Propagation.Getter` and `Setter` do, by B3's spelling of each name (`b3`, `X-B3-TraceId`).

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use crate::b3::{self, B3Format, Extracted};
use crate::context::TraceContext;

/// String-keyed headers that can carry a trace context, such as a message's headers.
///
/// ```
/// use zipkin_tracing::Carrier;
/// struct KafkaHeaders(Vec<(String, Vec<u8>)>); // a record's headers: values are bytes
/// impl Carrier for KafkaHeaders {
///     fn get(&self, key: &str) -> Option<&str> {
///         let (_, value) = self.0.iter().find(|(name, _)| name == key)?;
///         std::str::from_utf8(value).ok()
///     }
///     fn set(&mut self, key: &str, value: String) {
///         self.0.retain(|(name, _)| name != key);
///         self.0.push((key.to_owned(), value.into_bytes()));
///     }
/// }
/// ```
pub trait Carrier {
    /// The value of `key`, if present (keys are compared as they are).
    fn get(&self, key: &str) -> Option<&str>;
    /// Sets `key` to `value`, replacing an earlier value.
    fn set(&mut self, key: &str, value: String);
}

impl<S: BuildHasher> Carrier for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<&str> {
        HashMap::get(self, key).map(String::as_str)
    }

    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_owned(), value);
    }
}

impl Carrier for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        BTreeMap::get(self, key).map(String::as_str)
    }

    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_owned(), value);
    }
}

/// Reads B3 from a message's headers, or any [`Carrier`], as [`extract`](crate::extract)
/// reads a request's: the `b3` header, else `X-B3-TraceId` and the others.
///
/// ```
/// use std::collections::BTreeMap;
/// use zipkin_tracing::{B3Format, Extracted, SamplingFlags, TraceContext, extract_from, inject_into};
/// let sent = TraceContext::new_root(SamplingFlags::SAMPLED, true);
/// let mut message_headers = BTreeMap::new();
/// inject_into(&sent, B3Format::Single, &mut message_headers); // what Brave's messaging writes
/// assert_eq!(message_headers.keys().collect::<Vec<_>>(), ["b3"]);
/// assert_eq!(extract_from(&message_headers), Extracted::Context(sent));
/// ```
pub fn extract_from(carrier: &impl Carrier) -> Extracted {
    b3::extract_with(|key| carrier.get(key))
}

/// Writes `context` into a message's headers, or any [`Carrier`]; messages take the single
/// form, as Brave's messaging does. [`extract_from`]'s example writes one.
pub fn inject_into(context: &TraceContext, format: B3Format, carrier: &mut impl Carrier) {
    b3::write(context, format, |field, value| {
        carrier.set(field.1, String::from_utf8_lossy(value).into_owned());
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b3::tests::all_contexts;

    const T64: &str = "463ac35c9f6413ad";
    const SPAN: &str = "a2fb4a1d1a96d312";

    #[test]
    fn message_headers_carry_both_forms_by_b3_spelling() {
        for context in all_contexts() {
            let mut single = HashMap::new();
            inject_into(&context, B3Format::Single, &mut single);
            assert_eq!(single.len(), 1);
            assert_eq!(single["b3"], headers_of(&context, B3Format::Single)["b3"]);
            let mut multi = HashMap::new();
            inject_into(&context, B3Format::Multi, &mut multi);
            assert!(multi.contains_key("X-B3-TraceId") && multi.contains_key("X-B3-Flags"));
            assert_eq!(extract_from(&multi), Extracted::Context(context));
        }
        // Read by exact name, as HTTP/2's lower case would not be for messages.
        let lower: HashMap<String, String> = [("x-b3-traceid", T64), ("x-b3-spanid", SPAN)]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        assert_eq!(extract_from(&lower), Extracted::Empty);
        // A malformed b3 in a message starts a new trace, as in a request.
        let bad: HashMap<String, String> = [("b3".to_owned(), "not-ids".to_owned())].into();
        assert_eq!(extract_from(&bad), Extracted::Empty);
    }

    fn headers_of(context: &TraceContext, format: B3Format) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        b3::inject(context, format, &mut map);
        map
    }
}
