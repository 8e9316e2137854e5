//! What the page kinds share in their typed views: links to the previous and next period, JSON
//! numbers, and turning a page's view into its template context.
//!
//! Each page kind fills one `Serialize` struct for its template and one for its JSON document.
//! The JSON documents' field names are the API's contract (the data page documents them), and
//! their fields are declared in alphabetical order: that is the order serde_json has always
//! written them in, so that the files stay byte for byte the same.

use serde::{Serialize, Serializer};
use tera::Context;

use super::file_of;
use crate::domain::Day;

/// A link to the previous or next day or week, when that page is built.
#[derive(Debug, Clone, Serialize)]
pub struct PagerLink {
    /// The page, relative to the site root.
    pub href: String,
    /// Its period, in words.
    pub label: String,
}

impl PagerLink {
    /// The link to the page of the period `at`, when there is one.
    pub fn to_period(
        at: Option<Day>,
        url: impl FnOnce(Day) -> String,
        label: impl FnOnce(Day) -> String,
    ) -> Option<PagerLink> {
        at.map(|d| PagerLink {
            href: file_of(&url(d)),
            label: label(d),
        })
    }
}

/// A figure in a JSON document: rounded to three decimals, `null` when there is none (or it is
/// not finite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Num(pub Option<f64>);

impl Num {
    /// The figure as the document writes it.
    pub fn rounded(self) -> Option<f64> {
        self.0
            .filter(|x| x.is_finite())
            .map(|x| (x * 1000.0).round() / 1000.0)
    }
}

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.rounded() {
            Some(x) => serializer.serialize_f64(x),
            None => serializer.serialize_none(),
        }
    }
}

/// A page's view as its template context. A struct always serialises to a map, so the empty
/// context of the fallback is never used.
pub fn context_of(view: &impl Serialize) -> Context {
    Context::from_serialize(view).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_rounded_and_missing_ones_are_null() {
        let text = serde_json::to_string(&[
            Num(Some(1.23456)),
            Num(Some(2.0)),
            Num(None),
            Num(Some(f64::NAN)),
        ])
        .unwrap();
        assert_eq!(text, "[1.235,2.0,null,null]");
        // As the untyped documents wrote them.
        assert_eq!(
            serde_json::to_string(&serde_json::json!([1.235, 2.0])).unwrap(),
            "[1.235,2.0]"
        );
    }
}
