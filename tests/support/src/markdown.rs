//! What a job summary renders to, judged by a CommonMark renderer with
//! GitHub's tables (pulldown-cmark): the links, images and HTML in it that
//! we did not write, and bare URLs an autolinker would pick up outside a
//! code span.
//!
//! Used by tests/injection and by the summary's unit tests, so both judge
//! by the same rules.

use pulldown_cmark::{Event, Options, Parser, Tag};

/// The HTML the summary itself writes.
const OUR_HTML: &[&str] = &["<details>", "<summary>", "</summary>", "</details>", "<br>"];

/// Every link (whose destination `ours` refuses), image, HTML other than
/// ours, and bare URL in the rendered `summary`, one line each.
pub fn foreign_markup(summary: &str, ours: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for event in Parser::new_ext(summary, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Link { dest_url, .. }) if !ours(&dest_url) => {
                found.push(format!("link to {dest_url}"));
            }
            Event::Start(Tag::Image { dest_url, .. }) => {
                found.push(format!("image {dest_url}"));
            }
            Event::Html(html) | Event::InlineHtml(html) => {
                let html = html.trim();
                if !OUR_HTML.iter().any(|o| html.starts_with(o)) || html.contains("img") {
                    found.push(format!("HTML {html}"));
                }
            }
            Event::Text(text)
                if text.contains("http") || text.contains("www.") || text.contains("evil") =>
            {
                found.push(format!("bare URL in text {text:?}"));
            }
            _ => {}
        }
    }
    found
}
