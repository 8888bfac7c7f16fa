//! Carriers: where a trace context travels besides HTTP request headers. A message's
//! headers (AMQP properties, Kafka record headers) are string-keyed maps; any type that can
//! get and set a string by key can carry B3 ([`extract_from`](crate::extract_from),
//! [`inject_into`](crate::inject_into)), as Brave's `Propagation.Getter` and `Setter` do.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

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
    /// The value of `key`, if present (keys are compared as they are: `b3`, `X-B3-TraceId`).
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
