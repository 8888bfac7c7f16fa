//! Shared by the demo's tests: the article's waterfall as the demo draws it.

use collector::waterfall::WaterfallOptions;

/// A fixed width and no colour, so that the drawn rows can be compared as text.
pub const OPTIONS: WaterfallOptions = WaterfallOptions {
    width: 100,
    colour: false,
};

/// The waterfall rows of the article's trace: indentation and `service: name`, in order.
pub const ARTICLE_ROWS: [(usize, &str); 6] = [
    (0, "service1: GET /"),
    (2, "service1: service_1_do_stuff"),
    (4, "service1: GET /service/"),
    (6, "service2: GET /service/"),
    (8, "service2: service_2_do_stuff"),
    (10, "service2: db_search"),
];

/// The waterfall rows in `text`: indentation and label (the text before the duration).
pub fn waterfall_rows(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .filter_map(|line| {
            let trimmed = line.trim_start();
            let is_row = trimmed.starts_with("service1: ") || trimmed.starts_with("service2: ");
            let label = trimmed.split("  ").next()?;
            is_row.then_some((line.len() - trimmed.len(), label))
        })
        .collect()
}
