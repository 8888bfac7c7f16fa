//! The rows of the web waterfall: the terminal waterfall's tree order, with a shared
//! client/server pair drawn as one row, as Zipkin's UI draws it. The client and the server
//! that joined its span share one id; they are one operation seen from both ends, so the
//! article's six spans make five rows.

use zipkin_tracing::{Kind, Span};

use crate::waterfall::tree;

/// One row of the web waterfall: one span, or a client and the server that joined it.
#[derive(Debug, Clone)]
pub(crate) struct Row<'a> {
    /// The span, or the client then its server.
    pub(crate) spans: Vec<&'a Span>,
    /// 0 for a root, 1 for its children, counting a merged pair once.
    pub(crate) depth: usize,
}

impl Row<'_> {
    /// The span that names the row: the server of a pair, as Zipkin's UI names it.
    pub(crate) fn named_by(&self) -> &Span {
        self.spans[self.spans.len() - 1]
    }

    /// The span whose interval the bar shows: the client of a pair, which encloses the
    /// server's time and the network around it.
    pub(crate) fn timed_by(&self) -> &Span {
        self.spans[0]
    }

    /// Whether any span of the row carries an `error` tag.
    pub(crate) fn is_error(&self) -> bool {
        self.spans
            .iter()
            .any(|span| span.tags.contains_key("error"))
    }
}

/// The rows of one trace, parents before children, siblings by start time.
pub(crate) fn rows(spans: &[Span]) -> Vec<Row<'_>> {
    let mut rows: Vec<Row<'_>> = Vec::new();
    // The ancestors of the current tree row: its tree depth, the row it went into, and
    // whether it was merged into its client's row (its subtree then moves up one level).
    let mut ancestors: Vec<(usize, usize, bool)> = Vec::new();
    for tree_row in tree::rows(spans) {
        while ancestors.last().is_some_and(|a| a.0 >= tree_row.depth) {
            ancestors.pop();
        }
        let span = tree_row.span;
        if let Some(&(_, parent_row, false)) = ancestors.last() {
            let parent = &mut rows[parent_row];
            let client = parent.spans[0];
            if span.kind == Some(Kind::Server)
                && client.kind == Some(Kind::Client)
                && client.id == span.id
                && parent.spans.len() == 1
            {
                parent.spans.push(span);
                ancestors.push((tree_row.depth, parent_row, true));
                continue;
            }
        }
        let merged_above = ancestors.iter().filter(|a| a.2).count();
        rows.push(Row {
            spans: vec![span],
            depth: tree_row.depth.saturating_sub(merged_above),
        });
        ancestors.push((tree_row.depth, rows.len() - 1, false));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::article;

    #[test]
    fn the_articles_six_spans_make_five_rows() {
        let spans = article();
        let rows = rows(&spans);
        let shape: Vec<(usize, String, usize)> = rows
            .iter()
            .map(|row| {
                (
                    row.depth,
                    crate::web::label(row.named_by()),
                    row.spans.len(),
                )
            })
            .collect();
        let expected = [
            (0, "service1: GET /", 1),
            (1, "service1: service_1_do_stuff", 1),
            (2, "service2: GET /service/", 2),
            (3, "service2: service_2_do_stuff", 1),
            (4, "service2: db_search", 1),
        ];
        let expected: Vec<(usize, String, usize)> = expected
            .iter()
            .map(|(depth, label, count)| (*depth, (*label).to_owned(), *count))
            .collect();
        assert_eq!(shape, expected);
        assert_eq!(rows[2].timed_by().kind, Some(Kind::Client));
    }

    #[test]
    fn an_unshared_server_child_keeps_its_own_row() {
        // A server that made a child of its client (no join) has its own id: two rows.
        let mut spans = article();
        spans[3].id = "00000000000000aa".parse().unwrap();
        spans[3].parent_id = Some(spans[2].id);
        spans[3].shared = false;
        spans[4].parent_id = Some(spans[3].id);
        assert_eq!(rows(&spans).len(), 6);
        assert_eq!(rows(&spans)[5].depth, 5);
    }
}
