//! Tables of numbers on pages, each with its CSV beside it.

use serde::Serialize;

use super::RenderError;
use super::site::*;
use crate::domain::Day;

/// A table of numbers on a page, with the CSV written beside it. Templates see its caption,
/// CSV path, row count and the table as HTML (see [`super::html_table`]).
#[derive(Debug, Clone)]
pub struct Table {
    /// Caption.
    pub caption: String,
    /// Column headings.
    pub header: Vec<String>,
    /// Rows of cells (already formatted text).
    pub rows: Vec<Vec<String>>,
    /// The CSV file, relative to the site root.
    pub csv: String,
}

impl Serialize for Table {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut t = serializer.serialize_struct("Table", 4)?;
        t.serialize_field("caption", &self.caption)?;
        t.serialize_field("csv", &self.csv)?;
        t.serialize_field("row_count", &self.rows.len())?;
        t.serialize_field(
            "html",
            &super::blocks::hold(super::html_table(&self.caption, &self.header, &self.rows)),
        )?;
        t.end()
    }
}

impl Table {
    /// A table of days and their request counts (busiest days, highs).
    pub(super) fn day_counts(caption: String, days: &[(Day, u64)], csv: String) -> Table {
        Table {
            caption,
            header: vec!["Date".into(), "Requests".into()],
            rows: days
                .iter()
                .map(|(d, n)| vec![d.to_string(), n.to_string()])
                .collect(),
            csv,
        }
    }

    pub(super) fn write(&self, files: &Files) -> Result<(), RenderError> {
        let header: Vec<&str> = self.header.iter().map(String::as_str).collect();
        files.csv(&self.csv, &header, &self.rows)
    }
}
