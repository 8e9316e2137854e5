//! Big HTML blocks (inline chart SVG, data tables) kept out of Tera contexts.
//!
//! A ward × service page carries some 45 KB of chart SVG and table HTML. In a Tera context each
//! block was copied into a `serde_json::Value`, again with the context for every variant of a
//! page, and again as Tera rendered it through a macro. Instead the context holds a short marker
//! ([`hold`]) and the rendered page has its markers replaced by the blocks ([`splice`]).
//!
//! Blocks live on the thread that made them until the end of the unit of the site being made
//! there ([`super::Renderer::unit`]; a unit runs on one thread). A marker that names no block
//! held on this thread is an error, never a silently missing chart.

use std::cell::RefCell;
use std::sync::LazyLock;

/// Marker delimiters: private-use characters that no escaping touches.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// A random number per process inside every marker, so that city text that happens to contain
/// the delimiters never reads as a marker.
static PREFIX: LazyLock<String> = LazyLock::new(|| {
    use std::hash::BuildHasher;
    let nonce = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    format!("{OPEN}{nonce:016x}-")
});

/// Blocks held on one thread, by increasing id.
#[derive(Default)]
struct Held {
    next: u64,
    blocks: Vec<(u64, String)>,
}

thread_local! {
    static HELD: RefCell<Held> = RefCell::default();
}

/// Holds `html` on this thread and returns the marker a template puts where it goes.
pub fn hold(html: String) -> String {
    HELD.with(|held| {
        let mut held = held.borrow_mut();
        let id = held.next;
        held.next += 1;
        held.blocks.push((id, html));
        format!("{}{id:x}{CLOSE}", *PREFIX)
    })
}

/// How many blocks this thread holds: a mark to [`release`] back to.
pub fn mark() -> usize {
    HELD.with(|held| held.borrow().blocks.len())
}

/// Drops the blocks held on this thread since `mark`.
pub fn release(mark: usize) {
    HELD.with(|held| held.borrow_mut().blocks.truncate(mark));
}

/// Replaces every marker in `html` by its block. An unknown marker is returned as the error.
pub fn splice(html: String) -> Result<String, String> {
    let prefix = PREFIX.as_str();
    let finder = memchr::memmem::Finder::new(prefix.as_bytes());
    let Some(first) = finder.find(html.as_bytes()) else {
        return Ok(html);
    };
    HELD.with(|held| {
        let held = held.borrow();
        let mut out = String::with_capacity(html.len() + 64 * 1024);
        let mut rest = &html[..];
        let mut at = Some(first);
        while let Some(i) = at {
            out.push_str(&rest[..i]);
            let after = &rest[i + prefix.len()..];
            let end = after.find(CLOSE);
            let block = end
                .and_then(|end| u64::from_str_radix(&after[..end], 16).ok())
                .and_then(|id| held.blocks.binary_search_by_key(&id, |b| b.0).ok())
                .map(|k| held.blocks[k].1.as_str());
            let (Some(end), Some(block)) = (end, block) else {
                let shown: String = after.chars().take(24).collect();
                return Err(format!("{prefix}{shown}"));
            };
            out.push_str(block);
            rest = &after[end + CLOSE.len_utf8()..];
            at = finder.find(rest.as_bytes());
        }
        out.push_str(rest);
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_replaced_and_released_blocks_are_refused() {
        let mark = mark();
        let svg = hold("<svg>a</svg>".into());
        let table = hold("<table></table>".into());
        let page = format!("<p>{svg}</p>{table}{svg}<p>\u{E000}not a marker\u{E001}</p>");
        assert_eq!(
            splice(page.clone()).unwrap(),
            "<p><svg>a</svg></p><table></table><svg>a</svg><p>\u{E000}not a marker\u{E001}</p>"
        );
        assert_eq!(splice("plain".into()).unwrap(), "plain");
        release(mark);
        assert!(splice(page).is_err());
        // Another thread holds none of this thread's blocks.
        let here = hold("x".into());
        let elsewhere = std::thread::spawn(move || splice(here)).join().unwrap();
        assert!(elsewhere.is_err());
        release(mark);
    }
}
