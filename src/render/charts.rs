//! Charts on pages: what a template needs to show a chart from [`crate::charts`] (inline SVG or
//! an image, its table, downloads, embed snippet, alt text and citation), the chart's bundle
//! (`.svg`, `.csv`, `.json`) written beside the page under a stable name, the boundary map in
//! force on a day, and the pages' social cards.

use std::sync::Arc;

use serde::Serialize;

use super::{RenderError, Renderer};
use crate::charts::card::{Card, card_png};
use crate::charts::geo::{Boundaries, BoundaryCache};
use crate::charts::{Cell, Chart, ChartBundle, Period};
use crate::domain::Day;

/// A chart as a template shows it (see `templates/_macros.html`, `chart`).
#[derive(Debug, Clone, Serialize)]
pub struct ChartView {
    /// The chart's id: its file names and its element id.
    pub id: String,
    /// Title.
    pub title: String,
    /// The description that states the finding.
    pub desc: String,
    /// Alt text of the `<img>`.
    pub alt: String,
    /// The inline SVG's marker (see `blocks.rs`), when inline.
    pub svg: Option<String>,
    /// Templates test this flag, not `svg`: Tera escapes a string it tests for truth.
    pub inline: bool,
    /// The chart would show one value or none: the page states its finding in words instead
    /// (the SVG, CSV and JSON are still written and offered).
    pub words_only: bool,
    /// The `.svg`, relative to the root.
    pub src: String,
    /// Width in pixels.
    pub width: f64,
    /// Height in pixels.
    pub height: f64,
    /// The `.csv`, relative to the root.
    pub csv: String,
    /// The `.json`, relative to the root.
    pub json: String,
    /// The HTML to embed the chart elsewhere.
    pub embed: String,
    /// The chart's own table, where the page does not already show its numbers.
    pub table: Option<ChartTableView>,
}

/// Each period's label and its chart, as a [`ChartBundle`] holds them.
pub type PeriodCharts = Vec<(String, Chart)>;

/// Where a chart's files are, relative to the root, and the page an embed links back to.
struct ChartFiles {
    svg: String,
    csv: String,
    json: String,
    page: String,
}

/// A chart's table.
#[derive(Debug, Clone, Serialize)]
pub struct ChartTableView {
    /// Caption (the chart's title).
    pub caption: String,
    /// The table's marker (see `blocks.rs`).
    pub html: String,
    /// The `.csv`, relative to the root.
    pub csv: String,
}

impl Renderer<'_> {
    /// The template view of a chart whose files are in `dir`. `inline` puts the SVG in the page
    /// (maps must be inline for their links to work); otherwise the page shows an `<img>`.
    /// `table` adds the chart's own table (off where the page already shows the same numbers).
    /// `through` is the last day of data the page shows (see [`Renderer::set_through`]).
    pub fn chart_view(
        &self,
        chart: &Chart,
        dir: &str,
        inline: bool,
        table: bool,
        through: Option<Day>,
    ) -> ChartView {
        let files = ChartFiles {
            svg: format!("{dir}{}.svg", chart.id),
            csv: format!("{dir}{}.csv", chart.id),
            json: format!("{dir}{}.json", chart.id),
            page: dir.to_string(),
        };
        self.view_of(chart, files, inline, table, through)
    }

    /// The template view of a chart on the page at `page_url` whose files are its period's
    /// place in a [`ChartBundle`] written into `bundle_dir` (see [`Renderer::write_bundle`]):
    /// the SVG link and the embed show its `<view>` (`view`, from [`Period::view_id`]), CSV
    /// and JSON are the bundle's.
    pub fn bundled_chart_view(
        &self,
        chart: &Chart,
        (bundle_dir, view): (&str, &str),
        page_url: &str,
        (inline, table): (bool, bool),
        through: Option<Day>,
    ) -> ChartView {
        let files = ChartFiles {
            svg: format!("{bundle_dir}{}.svg#{view}", chart.id),
            csv: format!("{bundle_dir}{}.csv", chart.id),
            json: format!("{bundle_dir}{}.json", chart.id),
            page: page_url.to_string(),
        };
        self.view_of(chart, files, inline, table, through)
    }

    fn view_of(
        &self,
        chart: &Chart,
        files: ChartFiles,
        inline: bool,
        table: bool,
        through: Option<Day>,
    ) -> ChartView {
        let base = &self.input.config.site.base_url;
        let (w, h) = crate::charts::svg_view_size(&chart.svg);
        // Display width 480 px for an embed; the height keeps the chart's proportions.
        let embed_h = (480.0 * h / w.max(1.0)).round();
        let citation = super::citation(self.input.config, through);
        let embed = format!(
            "<figure>\n<img src=\"{}\" alt=\"{}\" width=\"480\" height=\"{embed_h}\">\n<figcaption>{} <a href=\"{}\">{}</a></figcaption>\n</figure>",
            base.join(&files.svg),
            super::xml_escape(&chart.alt),
            super::xml_escape(&citation),
            base.join(&files.page),
            super::xml_escape(&chart.title)
        );
        let words_only = chart.says_more_in_words();
        let inline = inline && !words_only;
        ChartView {
            id: chart.id.clone(),
            title: chart.title.clone(),
            desc: chart.desc.clone(),
            alt: chart.alt.clone(),
            // The SVG escapes every text it carries (crate::charts::escape), so the template may
            // put it in the page as it is.
            svg: inline.then(|| super::blocks::hold(chart.svg.clone())),
            inline,
            words_only,
            src: files.svg,
            width: w.round(),
            height: h.round(),
            embed,
            table: table.then(|| ChartTableView {
                caption: chart.title.clone(),
                html: super::blocks::hold(super::html_table(
                    &chart.title,
                    &chart.table.header(),
                    chart.table.rows.iter().map(|r| r.iter().map(Cell::text)),
                )),
                csv: files.csv.clone(),
            }),
            csv: files.csv,
            json: files.json,
        }
    }

    /// The view of a period page's chart: its files written beside the page (a latest-period
    /// page, `bundle` none), or its `<view>` in the bundle `(dir, view)` that
    /// [`Renderer::write_bundles`] writes. Returns the view and the files written.
    pub fn period_chart_view(
        &self,
        chart: &Chart,
        page_url: &str,
        bundle: Option<(&str, &str)>,
        (inline, table): (bool, bool),
        through: Option<Day>,
    ) -> Result<(ChartView, usize), RenderError> {
        Ok(match bundle {
            None => (
                self.chart_view(chart, page_url, inline, table, through),
                self.write_chart(chart, page_url, through)?,
            ),
            Some(at) => (
                self.bundled_chart_view(chart, at, page_url, (inline, table), through),
                0,
            ),
        })
    }

    /// Writes each `(id, title, charts)` with any chart as a [`ChartBundle`] of `period`s into
    /// `dir` (see [`Renderer::write_bundle`]). Returns the number of files written.
    pub fn write_bundles(
        &self,
        dir: &str,
        period: Period,
        bundles: Vec<(&str, String, PeriodCharts)>,
        through: Option<Day>,
    ) -> Result<usize, RenderError> {
        let mut files = 0;
        for (id, title, charts) in bundles {
            if charts.is_empty() {
                continue;
            }
            let bundle = ChartBundle {
                id: id.to_string(),
                title,
                period,
                charts,
            };
            files += self.write_bundle(&bundle, dir, through)?;
        }
        Ok(files)
    }

    /// Writes a [`ChartBundle`] into `dir`: `ID.svg`, `ID.csv` and `ID.json`, the JSON citing
    /// data through `through`. Returns the number of files written.
    pub fn write_bundle(
        &self,
        bundle: &ChartBundle,
        dir: &str,
        through: Option<Day>,
    ) -> Result<usize, RenderError> {
        let out = self.out;
        let id = &bundle.id;
        out.write(&format!("{dir}{id}.svg"), bundle.svg().as_bytes())?;
        out.write(&format!("{dir}{id}.csv"), bundle.csv().as_bytes())?;
        let source = super::citation(self.input.config, through);
        out.write(&format!("{dir}{id}.json"), &bundle.json_document(&source))?;
        Ok(3)
    }

    /// Writes a chart's bundle into `dir`: `ID.svg`, `ID.csv` and `ID.json` (the JSON also
    /// carries the citation, with data through `through`). Returns the number of files written.
    pub fn write_chart(
        &self,
        chart: &Chart,
        dir: &str,
        through: Option<Day>,
    ) -> Result<usize, RenderError> {
        let out = self.out;
        out.write(&format!("{dir}{}.svg", chart.id), chart.svg.as_bytes())?;
        out.write(&format!("{dir}{}.csv", chart.id), chart.csv().as_bytes())?;
        let source = super::citation(self.input.config, through);
        out.write(
            &format!("{dir}{}.json", chart.id),
            &chart.json_document(&source),
        )?;
        Ok(3)
    }

    /// The ward boundaries in force on `day` and their name, when a map is configured.
    pub fn boundaries_for(&self, day: Day) -> Option<(Arc<Boundaries>, String)> {
        let config = self.input.config;
        let map = config.boundary_for(day)?;
        let b = BoundaryCache::global()
            .get(&config.resolve(&map.file), map.id_property.as_deref())
            .ok()?;
        Some((b, map.name.clone()))
    }

    /// Loads every configured boundary map, so a missing or broken file stops the build with
    /// its name before any page is written.
    pub fn check_boundaries(&self) -> Result<(), RenderError> {
        let config = self.input.config;
        for map in &config.boundaries {
            BoundaryCache::global()
                .get(&config.resolve(&map.file), map.id_property.as_deref())
                .map_err(|e| RenderError::Chart(format!("{e} (boundary map {:?})", map.name)))?;
        }
        Ok(())
    }

    /// Writes a social card at `path` and returns the path for [`super::PageMeta::image`].
    /// Its footer cites data through `through`.
    pub fn card(
        &self,
        path: &str,
        title: &str,
        figure: &str,
        caption: &str,
        through: Option<Day>,
    ) -> Result<String, RenderError> {
        let card = Card {
            site: self.input.config.site.title.clone(),
            title: title.to_string(),
            figure: figure.to_string(),
            caption: caption.to_string(),
            footer: super::citation(self.input.config, through),
        };
        let png = card_png(&card).map_err(|e| RenderError::Chart(e.to_string()))?;
        self.out.write(path, &png)?;
        Ok(path.to_string())
    }
}
