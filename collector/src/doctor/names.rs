//! The rule about span names (`id-in-name`): a name should say what kind of operation a
//! span is, not which item it touched. Zipkin lists and indexes span names per service,
//! so a name carrying an id, a UUID or a raw path makes one name per request.

use std::collections::BTreeMap;

use zipkin_tracing::Span;

use super::Finding;
use super::rules::ID_IN_NAME;

/// `id-in-name`: one finding per distinct name (in any case) that carries an id.
pub(crate) fn id_in_name(spans: &[Span], findings: &mut Vec<Finding>) {
    let mut by_name: BTreeMap<String, (String, Vec<&Span>)> = BTreeMap::new();
    for span in spans {
        let Some(name) = span.name.as_deref() else {
            continue;
        };
        if let Some(id) = id_in(name) {
            let entry = by_name.entry(name.to_lowercase());
            entry.or_insert_with(|| (id, Vec::new())).1.push(span);
        }
    }
    for (_, (id, spans)) in by_name {
        let name = spans[0].name.as_deref().unwrap_or_default();
        let template = name.replace(&id, "{id}");
        findings.push(Finding::new(
            ID_IN_NAME,
            spans.iter().map(|span| span.id),
            format!(
                "span name {name:?} carries {id:?}: every value makes a new name in Zipkin's \
                 lists (high cardinality); name it {template:?} and tag the value instead"
            ),
        ));
    }
}

/// The first part of `name` that looks like an id, if any: a UUID, a run of 3 or more
/// digits, a hex run of 8 or more characters with a digit in it, or a path segment that
/// is a number or a hex id.
pub(crate) fn id_in(name: &str) -> Option<String> {
    let words = name.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'));
    for word in words {
        if is_uuid(word) {
            return Some(word.to_owned());
        }
        for part in word.split('-') {
            let digits = part.chars().filter(char::is_ascii_digit).count();
            let hex = part.chars().all(|c| c.is_ascii_hexdigit());
            if (digits >= 3 && digits == part.len()) || (hex && part.len() >= 8 && digits > 0) {
                return Some(part.to_owned());
            }
        }
    }
    // A path segment that is a number or a hex id: `/items/42`, `/users/7f3a9c`.
    let path = name.split_whitespace().find(|word| word.starts_with('/'))?;
    path.split(['/', '?', '&', '=', ';'])
        .find(|segment| {
            let digits = segment.chars().filter(char::is_ascii_digit).count();
            let hex = segment.chars().all(|c| c.is_ascii_hexdigit());
            !segment.is_empty()
                && hex
                && (digits == segment.len() || (segment.len() >= 6 && digits > 0))
        })
        .map(str::to_owned)
}

/// Whether `word` is a UUID: 8-4-4-4-12 hex digits.
fn is_uuid(word: &str) -> bool {
    let groups: Vec<&str> = word.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, length)| {
            group.len() == length && group.chars().all(|c| c.is_ascii_hexdigit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_uuids_and_raw_paths_are_found_templates_and_words_are_not() {
        for (name, id) in [
            ("GET /items/42", "42"),
            ("get /items/42/parts", "42"),
            ("load order 12345", "12345"),
            ("fetch 5af7183fb1d4cf5f", "5af7183fb1d4cf5f"),
            (
                "GET /users/123e4567-e89b-12d3-a456-426614174000",
                "123e4567-e89b-12d3-a456-426614174000",
            ),
            ("GET /blobs/7f3a9c", "7f3a9c"),
            ("job-2024", "2024"),
        ] {
            assert_eq!(id_in(name).as_deref(), Some(id), "{name}");
        }
        for name in [
            "GET /",
            "GET /service/",
            "get /service/",
            "service_1_do_stuff",
            "service_2_do_stuff",
            "db_search",
            "GET /items/{id}",
            "http2 call v1",
            "GET /api/v2/spans",
            "decode feedface",
            "s3 upload",
        ] {
            assert_eq!(id_in(name), None, "{name}");
        }
    }
}
