//! `cwfy check`: proves a built site keeps its promises (the budgets, docs/ARCHITECTURE.md) without
//! a browser.
//!
//! Over every file of the site, in parallel:
//! - every `href` and `src` of every page resolves to a written file (a link to a folder needs its
//!   `index.html`), and every `#fragment` names an `id` (or `<a name>`) of the target page;
//! - every page is under the size budget and needs no JavaScript (a `<script>` is a warning);
//! - every chart — an `<svg role="img">`, or an `<img>` of an `.svg` file — has a title, a
//!   description and a table beside it in the same `<figure>`, `<section>` or `<article>`;
//! - every `.svg` and `.xml` file parses as XML and every `.json` file as JSON.
//!
//! Pages are read with a small tag scanner rather than a full HTML parser: the checks need tags
//! and attributes only, and the scanner handles what HTML allows there (unquoted values,
//! comments, raw-text elements, character references).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// The page budget (the budgets, docs/ARCHITECTURE.md): any page under 100 KB of HTML.
pub const MAX_PAGE_BYTES: u64 = 100_000;

/// The check could not run at all (the folder is missing or unreadable).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The site folder does not exist.
    #[error("{0}: no such folder; build the site first (cwfy build) or name the folder to check")]
    NoSite(PathBuf),
    /// Walking the folder failed.
    #[error("{path}: cannot read the site folder: {reason}")]
    Walk {
        /// The folder or file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The earlier manifest to compare with could not be read.
    #[error("{path}: cannot read the earlier manifest: {reason}")]
    Earlier {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// What to check against.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The site's own base URL (`https://example.org/cwfy/`): absolute links under it are checked
    /// as internal links, other absolute links are skipped.
    pub base_url: Option<String>,
    /// The page size budget in bytes.
    pub max_page_bytes: u64,
    /// The files an earlier build published (from its `manifest.json`): each must still be
    /// there, as itself or as a redirect to where its content moved.
    pub earlier: Option<EarlierSite>,
}

/// What an earlier build published, read from its `manifest.json`.
#[derive(Debug, Clone, Default)]
pub struct EarlierSite {
    /// The manifest it was read from, for the report.
    pub source: String,
    /// Every file it lists, relative to the site, `/`-separated.
    pub files: Vec<String>,
}

impl EarlierSite {
    /// Reads `path`: a `manifest.json`, or a site folder holding one.
    pub fn read(path: &Path) -> Result<EarlierSite, CheckError> {
        #[derive(serde::Deserialize)]
        struct Entry {
            path: String,
        }
        #[derive(serde::Deserialize)]
        struct Manifest {
            files: Vec<Entry>,
        }
        let file = if path.is_dir() {
            path.join("manifest.json")
        } else {
            path.to_path_buf()
        };
        let unreadable = |reason: String| CheckError::Earlier {
            path: file.clone(),
            reason,
        };
        let bytes = std::fs::read(&file).map_err(|e| unreadable(e.to_string()))?;
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            unreadable(format!(
                "not a cwfy manifest.json ({e}); name the manifest.json of an earlier build, or its site folder"
            ))
        })?;
        Ok(EarlierSite {
            source: file.display().to_string(),
            files: manifest.files.into_iter().map(|e| e.path).collect(),
        })
    }
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            base_url: None,
            max_page_bytes: MAX_PAGE_BYTES,
            earlier: None,
        }
    }
}

/// The kinds of problem, in the order the report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A link to a file that was not written.
    BrokenLink,
    /// A link whose `#fragment` is no `id` of the target page.
    MissingFragment,
    /// A page over the size budget.
    PageTooLarge,
    /// A chart without a `<title>` (or, for an `<img>`, without alt text or a title).
    ChartWithoutTitle,
    /// A chart without a `<desc>`.
    ChartWithoutDesc,
    /// A chart with no table in its figure or section.
    ChartWithoutTable,
    /// An `.svg` or `.xml` file that is not well-formed XML.
    InvalidXml,
    /// A `.json` file that does not parse.
    InvalidJson,
    /// A file that could not be read, or a page that is not UTF-8.
    Unreadable,
    /// A file an earlier build published that this site no longer has (neither the file nor a
    /// redirect): a link someone saved now breaks.
    Vanished,
    /// A page with a `<script>` (a warning: pages must work without JavaScript).
    Script,
}

impl Kind {
    /// A heading for the report.
    pub fn title(self) -> &'static str {
        match self {
            Kind::BrokenLink => "Broken links",
            Kind::MissingFragment => "Links to a missing #fragment",
            Kind::PageTooLarge => "Pages over the size budget",
            Kind::ChartWithoutTitle => "Charts without a title",
            Kind::ChartWithoutDesc => "Charts without a description (<desc>)",
            Kind::ChartWithoutTable => "Charts without a table in their figure or section",
            Kind::InvalidXml => "SVG and XML files that do not parse",
            Kind::InvalidJson => "JSON files that do not parse",
            Kind::Unreadable => "Unreadable files",
            Kind::Vanished => {
                "Addresses an earlier build published that this site no longer has (keep them, or leave a redirect)"
            }
            Kind::Script => "Pages with a <script> (warning: pages must work without JavaScript)",
        }
    }

    /// Whether this kind only warns (does not fail the check).
    pub fn is_warning(self) -> bool {
        matches!(self, Kind::Script)
    }
}

/// One offender.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// What is wrong.
    pub kind: Kind,
    /// The file, relative to the site folder, `/`-separated.
    pub file: String,
    /// The link, size or parser message.
    pub detail: String,
}

/// The result of [`check_site`].
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Files in the site.
    pub files: usize,
    /// HTML pages among them.
    pub pages: usize,
    /// Internal links (and fragments) checked.
    pub links: usize,
    /// Charts checked.
    pub charts: usize,
    /// Every problem, sorted by kind then file.
    pub problems: Vec<Problem>,
}

/// How many offenders of one kind [`CheckReport::render`] lists before summarising the rest.
const LIST_LIMIT: usize = 200;

impl CheckReport {
    /// True when nothing but warnings was found.
    pub fn ok(&self) -> bool {
        self.problems.iter().all(|p| p.kind.is_warning())
    }

    /// The problems of one kind.
    pub fn of(&self, kind: Kind) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(move |p| p.kind == kind)
    }

    /// The report as text: a summary line, then the offenders grouped by kind with file paths.
    pub fn render(&self) -> String {
        let mut grouped: BTreeMap<Kind, Vec<&Problem>> = BTreeMap::new();
        for p in &self.problems {
            grouped.entry(p.kind).or_default().push(p);
        }
        let errors = self
            .problems
            .iter()
            .filter(|p| !p.kind.is_warning())
            .count();
        let warnings = self.problems.len() - errors;
        let mut out = format!(
            "checked {} files: {} pages, {} internal links, {} charts: {}\n",
            self.files,
            self.pages,
            self.links,
            self.charts,
            match (errors, warnings) {
                (0, 0) => "all good".to_string(),
                (0, w) => format!("no errors, {w} warning{}", plural(w)),
                (e, w) => format!("{e} problem{}, {w} warning{}", plural(e), plural(w)),
            }
        );
        for (kind, list) in grouped {
            out.push_str(&format!("\n{} ({}):\n", kind.title(), list.len()));
            // Every vanished address is listed: each is a link someone may have saved.
            let limit = if kind == Kind::Vanished {
                usize::MAX
            } else {
                LIST_LIMIT
            };
            for p in list.iter().take(limit) {
                out.push_str(&format!("  {}: {}\n", p.file, p.detail));
            }
            if list.len() > limit {
                out.push_str(&format!("  … and {} more\n", list.len() - limit));
            }
        }
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Checks the built site in `dir`.
pub fn check_site(dir: &Path, options: &CheckOptions) -> Result<CheckReport, CheckError> {
    if !dir.is_dir() {
        return Err(CheckError::NoSite(dir.to_path_buf()));
    }
    let mut files = Vec::new();
    let mut folders = HashSet::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(true) {
        let entry = entry.map_err(|e| CheckError::Walk {
            path: e.path().unwrap_or(dir).to_path_buf(),
            reason: e.to_string(),
        })?;
        let rel = relative(dir, entry.path());
        if entry.file_type().is_dir() {
            folders.insert(rel);
        } else {
            files.push(rel);
        }
    }
    let file_set: HashSet<&str> = files.iter().map(String::as_str).collect();

    // Pass 1: scan pages, parse data files.
    let scanned: Vec<Scanned> = files
        .par_iter()
        .map(|rel| scan_file(dir, rel, options))
        .collect();
    let mut pages: HashMap<&str, &PageScan> = HashMap::new();
    let mut svgs: HashMap<&str, SvgInfo> = HashMap::new();
    let mut problems = Vec::new();
    for (rel, s) in files.iter().zip(&scanned) {
        problems.extend(s.problems.iter().cloned());
        if let Some(page) = &s.page {
            pages.insert(rel.as_str(), page);
        }
        if let Some(svg) = &s.svg {
            svgs.insert(rel.as_str(), svg.clone());
        }
    }

    // Pass 2: resolve links and charts against what was written.
    let site = Site {
        files: &file_set,
        folders: &folders,
        pages: &pages,
        svgs: &svgs,
        base_path: options.base_url.as_deref().map(base_parts),
    };
    let checked: Vec<(usize, usize, Vec<Problem>)> = pages
        .par_iter()
        .map(|(rel, page)| site.check_page(rel, page))
        .collect();
    let mut links = 0;
    let mut charts = 0;
    for (l, c, p) in checked {
        links += l;
        charts += c;
        problems.extend(p);
    }
    if let Some(earlier) = &options.earlier {
        for path in &earlier.files {
            if path != "manifest.json" && !file_set.contains(path.as_str()) {
                problems.push(Problem {
                    kind: Kind::Vanished,
                    file: path.clone(),
                    detail: format!("listed in {}", earlier.source),
                });
            }
        }
    }
    problems.sort();
    Ok(CheckReport {
        files: files.len(),
        pages: pages.len(),
        links,
        charts,
        problems,
    })
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// What scanning one file found.
#[derive(Default)]
struct Scanned {
    page: Option<PageScan>,
    svg: Option<SvgInfo>,
    problems: Vec<Problem>,
}

/// Whether an `.svg` file has a `<title>` and a `<desc>` as children of its root, and the ids
/// of its `<view>` elements (the fragments a link may name, as `chart.svg#week-2019-03-04`).
#[derive(Debug, Clone)]
struct SvgInfo {
    title: bool,
    desc: bool,
    views: Vec<String>,
}

fn scan_file(dir: &Path, rel: &str, options: &CheckOptions) -> Scanned {
    let ext = rel.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let problem = |kind, detail: String| Problem {
        kind,
        file: rel.to_string(),
        detail,
    };
    let mut out = Scanned::default();
    let Some(ext) = ext else { return out };
    if !matches!(ext.as_str(), "html" | "htm" | "svg" | "xml" | "json") {
        return out;
    }
    let bytes = match std::fs::read(dir.join(rel)) {
        Ok(b) => b,
        Err(e) => {
            out.problems.push(problem(Kind::Unreadable, e.to_string()));
            return out;
        }
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            out.problems
                .push(problem(Kind::Unreadable, format!("not UTF-8: {e}")));
            return out;
        }
    };
    match ext.as_str() {
        "html" | "htm" => {
            if bytes.len() as u64 > options.max_page_bytes {
                out.problems.push(problem(
                    Kind::PageTooLarge,
                    format!(
                        "{} bytes, over the budget of {} bytes",
                        bytes.len(),
                        options.max_page_bytes
                    ),
                ));
            }
            let page = scan_page(text);
            if page.scripts > 0 {
                out.problems.push(problem(
                    Kind::Script,
                    format!("{} <script> element{}", page.scripts, plural(page.scripts)),
                ));
            }
            out.page = Some(page);
        }
        "svg" | "xml" => match roxmltree::Document::parse(text) {
            Ok(doc) => {
                let root = doc.root_element();
                let has_text = |name: &str| {
                    root.children().any(|c| {
                        c.tag_name().name() == name
                            && c.text().is_some_and(|t| !t.trim().is_empty())
                    })
                };
                if ext == "svg" {
                    out.svg = Some(SvgInfo {
                        title: has_text("title"),
                        desc: has_text("desc"),
                        views: (root.children())
                            .filter(|c| c.tag_name().name() == "view")
                            .filter_map(|c| c.attribute("id").map(str::to_string))
                            .collect(),
                    });
                }
            }
            Err(e) => out.problems.push(problem(Kind::InvalidXml, e.to_string())),
        },
        "json" => {
            if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
                out.problems.push(problem(Kind::InvalidJson, e.to_string()));
            }
        }
        _ => {}
    }
    out
}

/// What a page holds that the checks need.
#[derive(Debug, Default)]
struct PageScan {
    /// `id` values, and `name` values of `<a>`.
    ids: HashSet<String>,
    /// Every `href` and `src` value, decoded, sorted, without repeats.
    links: Vec<String>,
    /// Charts in order.
    charts: Vec<Chart>,
    /// Which containers (figure, section, article; by order of opening) hold a table.
    container_has_table: Vec<bool>,
    /// `<script>` elements.
    scripts: usize,
}

/// One chart on a page.
#[derive(Debug)]
struct Chart {
    /// How the report names it: the svg's `aria-label` or id, or the img's `src`.
    label: String,
    /// For an `<img>`: the `src`, whose file must have the title and desc.
    img_src: Option<String>,
    /// An `<img>`'s alt text, or the inline svg's direct `<title>`, is not empty.
    title: bool,
    /// The inline svg has a direct `<desc>` that is not empty.
    desc: bool,
    /// The containers open around the chart.
    containers: Vec<usize>,
}

/// Scans a page's tags (see [`Tags`]) into what the checks need.
fn scan_page(html: &str) -> PageScan {
    let mut page = PageScan::default();
    let mut open: Vec<(Container, usize)> = Vec::new();
    // Inside an `<svg role="img">`: the chart's index and the element depth inside it.
    let mut svg: Option<(usize, usize)> = None;
    // Text of a direct `<title>` / `<desc>` child being read: which, and its start offset.
    let mut reading: Option<(bool, usize)> = None;
    let mut tags = Tags::new(html);
    while let Some(tag) = tags.next() {
        for (name, value) in &tag.attrs {
            if tag.end {
                break;
            }
            let Some(value) = value else { continue };
            match name.as_str() {
                "id" => {
                    page.ids.insert(value.to_string());
                }
                "name" if tag.name == "a" => {
                    page.ids.insert(value.to_string());
                }
                "href" | "src" | "xlink:href" => page.links.push(value.to_string()),
                _ => {}
            }
        }
        // An HTML element, or the end of the chart's container, ends an unclosed svg, as it
        // does in a browser's parser.
        if svg.is_some()
            && ((!tag.end && breaks_out_of_svg(&tag.name))
                || (tag.end && (Container::of(&tag.name).is_some() || tag.name == "body")))
        {
            svg = None;
            reading = None;
        }
        if let Some((chart, depth)) = svg.as_mut() {
            let chart = *chart;
            if tag.end {
                if let Some((is_title, start)) = reading.take() {
                    let text = html[start..tag.start].trim();
                    if !text.is_empty() {
                        if is_title {
                            page.charts[chart].title = true;
                        } else {
                            page.charts[chart].desc = true;
                        }
                    }
                }
                if *depth == 0 {
                    svg = None;
                } else {
                    *depth -= 1;
                }
            } else if !tag.self_closing {
                if *depth == 0 && (tag.name == "title" || tag.name == "desc") {
                    reading = Some((tag.name == "title", tag.end_offset));
                }
                *depth += 1;
            }
            continue;
        }
        if let Some(kind) = Container::of(&tag.name) {
            if tag.end {
                if let Some(i) = open.iter().rposition(|(k, _)| *k == kind) {
                    open.truncate(i);
                }
            } else {
                page.container_has_table.push(false);
                open.push((kind, page.container_has_table.len() - 1));
            }
            continue;
        }
        if tag.end {
            continue;
        }
        match tag.name.as_str() {
            "table" => {
                for (_, i) in &open {
                    page.container_has_table[*i] = true;
                }
            }
            "script" => page.scripts += 1,
            "svg" if tag.attr("role") == Some("img") => {
                let label = tag
                    .attr("aria-label")
                    .map(|l| format!("<svg aria-label=\"{l}\">"))
                    .or_else(|| tag.attr("id").map(|i| format!("<svg id=\"{i}\">")))
                    .unwrap_or_else(|| format!("<svg role=\"img\"> #{}", page.charts.len() + 1));
                page.charts.push(Chart {
                    label,
                    img_src: None,
                    title: false,
                    desc: false,
                    containers: open.iter().map(|(_, i)| *i).collect(),
                });
                if !tag.self_closing {
                    svg = Some((page.charts.len() - 1, 0));
                }
            }
            "img" => {
                if let Some(src) = tag.attr("src") {
                    let path = src.split(['?', '#']).next().unwrap_or("");
                    if path.to_ascii_lowercase().ends_with(".svg") {
                        page.charts.push(Chart {
                            label: format!("<img src=\"{src}\">"),
                            img_src: Some(src.to_string()),
                            title: tag.attr("alt").is_some_and(|a| !a.trim().is_empty()),
                            desc: false,
                            containers: open.iter().map(|(_, i)| *i).collect(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    page.links.sort_unstable();
    page.links.dedup();
    page
}

/// HTML start tags that end foreign (SVG) content in a browser's parser.
fn breaks_out_of_svg(name: &str) -> bool {
    matches!(
        name,
        "b" | "big"
            | "blockquote"
            | "body"
            | "br"
            | "center"
            | "code"
            | "dd"
            | "div"
            | "dl"
            | "dt"
            | "em"
            | "embed"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "head"
            | "hr"
            | "i"
            | "img"
            | "li"
            | "listing"
            | "menu"
            | "meta"
            | "nobr"
            | "ol"
            | "p"
            | "pre"
            | "ruby"
            | "s"
            | "small"
            | "span"
            | "strong"
            | "strike"
            | "sub"
            | "sup"
            | "table"
            | "tt"
            | "u"
            | "ul"
            | "var"
    )
}

/// Elements a chart's table may share with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Figure,
    Section,
    Article,
}

impl Container {
    fn of(name: &str) -> Option<Container> {
        match name {
            "figure" => Some(Container::Figure),
            "section" => Some(Container::Section),
            "article" => Some(Container::Article),
            _ => None,
        }
    }
}

/// The site as written, for pass 2.
struct Site<'a> {
    files: &'a HashSet<&'a str>,
    folders: &'a HashSet<String>,
    pages: &'a HashMap<&'a str, &'a PageScan>,
    svgs: &'a HashMap<&'a str, SvgInfo>,
    /// The base URL's scheme-and-host part and its path (`/` or `/cwfy/`).
    base_path: Option<(String, String)>,
}

/// Splits `https://example.org/cwfy/` into (`https://example.org`, `/cwfy/`).
fn base_parts(base: &str) -> (String, String) {
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    match base[after_scheme..].find('/') {
        Some(i) => {
            let (origin, path) = base.split_at(after_scheme + i);
            let mut path = path.to_string();
            if !path.ends_with('/') {
                path.push('/');
            }
            (origin.to_string(), path)
        }
        None => (base.to_string(), "/".to_string()),
    }
}

/// Where a link points inside the site.
enum Target {
    /// Not ours to check (another site, `mailto:`, …).
    External,
    /// A site path (relative to the root, maybe empty or ending in `/`) and a fragment.
    Internal(String, Option<String>),
    /// The link climbs above the site root.
    Outside,
}

impl Site<'_> {
    /// Checks one page's links and charts: (links checked, charts checked, problems).
    fn check_page(&self, rel: &str, page: &PageScan) -> (usize, usize, Vec<Problem>) {
        let mut problems = Vec::new();
        let problem = |kind, detail: String| Problem {
            kind,
            file: rel.to_string(),
            detail,
        };
        let mut links = 0;
        for link in &page.links {
            match self.resolve(rel, link) {
                Target::External => {}
                Target::Outside => {
                    links += 1;
                    problems.push(problem(
                        Kind::BrokenLink,
                        format!("{link} (points outside the site)"),
                    ))
                }
                Target::Internal(path, fragment) => {
                    links += 1;
                    match self.find(&path) {
                        None => problems.push(problem(
                            Kind::BrokenLink,
                            format!("{link} (no file {})", display_path(&path)),
                        )),
                        Some(target) => {
                            // A page's fragment names an element; an SVG's, a `<view>`.
                            if let Some(fragment) = fragment.filter(|f| !f.is_empty())
                                && (self.pages.get(target.as_str()))
                                    .map(|p| !p.ids.contains(&fragment))
                                    .or_else(|| {
                                        (self.svgs.get(target.as_str()))
                                            .map(|s| !s.views.contains(&fragment))
                                    })
                                    .unwrap_or(false)
                            {
                                problems.push(problem(
                                    Kind::MissingFragment,
                                    format!("{link} (no id \"{fragment}\" in {target})"),
                                ));
                            }
                        }
                    }
                }
            }
        }
        for chart in &page.charts {
            let (mut title, mut desc) = (chart.title, chart.desc);
            if let Some(src) = &chart.img_src
                && let Target::Internal(path, _) = self.resolve(rel, src)
                && let Some(info) = self.find(&path).and_then(|t| self.svgs.get(t.as_str()))
            {
                title |= info.title;
                desc |= info.desc;
            }
            if !title {
                problems.push(problem(Kind::ChartWithoutTitle, chart.label.clone()));
            }
            if !desc {
                problems.push(problem(Kind::ChartWithoutDesc, chart.label.clone()));
            }
            if !chart
                .containers
                .iter()
                .any(|i| page.container_has_table[*i])
            {
                problems.push(problem(
                    Kind::ChartWithoutTable,
                    format!(
                        "{} ({})",
                        chart.label,
                        if chart.containers.is_empty() {
                            "not inside a figure or section"
                        } else {
                            "no <table> in its figure or section"
                        }
                    ),
                ));
            }
        }
        (links, page.charts.len(), problems)
    }

    /// Resolves a link found on page `from` (a site path).
    fn resolve(&self, from: &str, link: &str) -> Target {
        let link = link.trim();
        let (rest, fragment) = match link.split_once('#') {
            Some((r, f)) => (r, Some(percent_decode(f))),
            None => (link, None),
        };
        let rest = rest.split('?').next().unwrap_or("");
        let lower = rest.to_ascii_lowercase();
        let from_root;
        let path = if rest.is_empty() {
            // `#x` or `?q`: this page.
            return Target::Internal(from.to_string(), fragment);
        } else if lower.starts_with("//") {
            return Target::External;
        } else if let Some(colon) = rest.find(':')
            && !rest[..colon].contains('/')
        {
            // A scheme: only our own base URL is ours.
            match &self.base_path {
                Some((origin, base)) if rest.starts_with(origin.as_str()) => {
                    let path = &rest[origin.len()..];
                    let path = if path.is_empty() { "/" } else { path };
                    match path.strip_prefix(base.as_str()) {
                        Some(p) => {
                            from_root = true;
                            p.to_string()
                        }
                        None if format!("{path}/") == *base => {
                            from_root = true;
                            String::new()
                        }
                        None => return Target::External,
                    }
                }
                _ => return Target::External,
            }
        } else if let Some(abs) = rest.strip_prefix('/') {
            from_root = true;
            match &self.base_path {
                Some((_, base)) if rest.starts_with(base.as_str()) => {
                    rest[base.len()..].to_string()
                }
                _ => abs.to_string(),
            }
        } else {
            from_root = false;
            rest.to_string()
        };
        let path = percent_decode(&path);
        let mut parts: Vec<&str> = if from_root {
            Vec::new()
        } else {
            let mut p: Vec<&str> = from.split('/').collect();
            p.pop();
            p
        };
        let trailing = path.ends_with('/');
        for seg in path.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Target::Outside;
                    }
                }
                s => parts.push(s),
            }
        }
        let mut joined = parts.join("/");
        if trailing && !joined.is_empty() {
            joined.push('/');
        }
        Target::Internal(joined, fragment)
    }

    /// The written file a site path names: the file itself, or a folder's `index.html`.
    fn find(&self, path: &str) -> Option<String> {
        let trimmed = path.trim_end_matches('/');
        if !path.ends_with('/') && self.files.contains(trimmed) {
            return Some(trimmed.to_string());
        }
        if trimmed.is_empty() || self.folders.contains(trimmed) {
            let index = if trimmed.is_empty() {
                "index.html".to_string()
            } else {
                format!("{trimmed}/index.html")
            };
            return self.files.contains(index.as_str()).then_some(index);
        }
        None
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_string()
    }
}

/// Decodes `%XX` escapes (invalid ones are kept as written).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// One tag found by [`Tags`].
#[derive(Debug)]
struct Tag<'a> {
    /// Lower-case element name.
    name: String,
    /// `</name>`.
    end: bool,
    /// `<name/>`.
    self_closing: bool,
    /// Lower-case attribute names with their decoded values (`None` for a bare attribute).
    attrs: Vec<(String, Option<Cow<'a, str>>)>,
    /// Offset of the `<`.
    start: usize,
    /// Offset just after the `>`.
    end_offset: usize,
}

impl<'a> Tag<'a> {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// A scanner over the tags of an HTML document. It skips comments, doctypes and processing
/// instructions, and the contents of raw-text elements (`script`, `style`, and outside SVG
/// `title` and `textarea`), so markup-like text inside them is not taken for tags.
struct Tags<'a> {
    html: &'a str,
    pos: usize,
    svg_depth: usize,
}

impl<'a> Tags<'a> {
    fn new(html: &'a str) -> Self {
        Tags {
            html,
            pos: 0,
            svg_depth: 0,
        }
    }

    fn skip_past(&mut self, needle: &str) {
        self.pos = match self.html[self.pos..].find(needle) {
            Some(i) => self.pos + i + needle.len(),
            None => self.html.len(),
        };
    }

    /// Moves to the `</name` that closes a raw-text element (case-insensitive).
    fn skip_raw_text(&mut self, name: &str) {
        let bytes = self.html.as_bytes();
        let mut i = self.pos;
        while let Some(off) = self.html[i..].find("</") {
            let at = i + off;
            let after = at + 2;
            if bytes.len() >= after + name.len()
                && bytes[after..after + name.len()].eq_ignore_ascii_case(name.as_bytes())
                && bytes
                    .get(after + name.len())
                    .is_none_or(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
            {
                self.pos = at;
                return;
            }
            i = after;
        }
        self.pos = self.html.len();
    }

    fn next(&mut self) -> Option<Tag<'a>> {
        let bytes = self.html.as_bytes();
        loop {
            let off = self.html[self.pos..].find('<')?;
            let start = self.pos + off;
            self.pos = start + 1;
            let rest = &self.html[start..];
            if rest.starts_with("<!--") {
                self.pos = start + 4;
                self.skip_past("-->");
                continue;
            }
            if rest.starts_with("<!") || rest.starts_with("<?") {
                self.skip_past(">");
                continue;
            }
            let end = rest.starts_with("</");
            let name_start = start + if end { 2 } else { 1 };
            if !bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
                continue;
            }
            let mut i = name_start;
            while i < bytes.len()
                && !matches!(
                    bytes[i],
                    b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/' | b'>'
                )
            {
                i += 1;
            }
            let name = self.html[name_start..i].to_ascii_lowercase();
            let mut tag = Tag {
                name,
                end,
                self_closing: false,
                attrs: Vec::new(),
                start,
                end_offset: i,
            };
            // Attributes.
            loop {
                while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'>') {
                        tag.self_closing = true;
                    }
                    i += 1;
                }
                if i >= bytes.len() {
                    break;
                }
                if bytes[i] == b'>' {
                    i += 1;
                    break;
                }
                let attr_start = i;
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/' | b'>' | b'='
                    )
                {
                    i += 1;
                }
                // A lone `=` or similar: take one byte so the loop moves on.
                if i == attr_start {
                    i += 1;
                }
                let attr_name = self.html[attr_start..i].to_ascii_lowercase();
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                let mut value = None;
                if bytes.get(i) == Some(&b'=') {
                    i += 1;
                    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    let raw = match bytes.get(i) {
                        Some(q @ (b'"' | b'\'')) => {
                            let close = self.html[i + 1..]
                                .find(*q as char)
                                .map(|o| i + 1 + o)
                                .unwrap_or(self.html.len());
                            let v = &self.html[i + 1..close];
                            i = (close + 1).min(self.html.len());
                            v
                        }
                        _ => {
                            let s = i;
                            while i < bytes.len()
                                && !bytes[i].is_ascii_whitespace()
                                && bytes[i] != b'>'
                            {
                                i += 1;
                            }
                            &self.html[s..i]
                        }
                    };
                    value = Some(decode_entities(raw));
                }
                tag.attrs.push((attr_name, value));
            }
            tag.end_offset = i;
            self.pos = i;
            if tag.name == "svg" {
                if tag.end {
                    self.svg_depth = self.svg_depth.saturating_sub(1);
                } else if !tag.self_closing {
                    self.svg_depth += 1;
                }
            }
            if !tag.end {
                let raw = match tag.name.as_str() {
                    "script" | "style" => true,
                    "title" | "textarea" => self.svg_depth == 0,
                    _ => false,
                };
                if raw && !tag.self_closing {
                    self.skip_raw_text(&tag.name.clone());
                }
            }
            return Some(tag);
        }
    }
}

/// Decodes the character references that appear in attribute values (`&amp;`, `&#39;`, …).
fn decode_entities(raw: &str) -> Cow<'_, str> {
    if !raw.contains('&') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Attrs = Vec<(String, Option<String>)>;

    fn tags(html: &str) -> Vec<(String, bool, Attrs)> {
        let mut t = Tags::new(html);
        let mut out = Vec::new();
        while let Some(tag) = t.next() {
            out.push((
                tag.name.clone(),
                tag.end,
                tag.attrs
                    .iter()
                    .map(|(n, v)| (n.clone(), v.as_ref().map(|v| v.to_string())))
                    .collect(),
            ));
        }
        out
    }

    #[test]
    fn scanner_reads_every_attribute_style() {
        let t = tags(
            "<!doctype html><a href=x/index.html class='a b' hidden data-x = \"1\">t</a>\
             <img src=\"a&amp;b.png\" alt=\"&#39;q&#x27;\"/>",
        );
        assert_eq!(t[0].0, "a");
        assert_eq!(
            t[0].2,
            vec![
                ("href".into(), Some("x/index.html".into())),
                ("class".into(), Some("a b".into())),
                ("hidden".into(), None),
                ("data-x".into(), Some("1".into())),
            ]
        );
        assert_eq!((t[1].0.as_str(), t[1].1), ("a", true));
        assert_eq!(t[2].2[0].1.as_deref(), Some("a&b.png"));
        assert_eq!(t[2].2[1].1.as_deref(), Some("'q'"));
    }

    #[test]
    fn scanner_skips_comments_and_raw_text() {
        let t = tags(
            "<!-- <a href=no> --><title>a <b> title</title><script>if (a<b) x='<a href=no>'</script>\
             <style>a>b{}</style><svg><title>x</title></svg><a href=yes>",
        );
        let names: Vec<&str> = t.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "title", "title", "script", "script", "style", "style", "svg", "title", "title",
                "svg", "a"
            ]
        );
        assert_eq!(t.last().unwrap().2[0].1.as_deref(), Some("yes"));
    }

    #[test]
    fn charts_need_title_desc_and_table() {
        let page = scan_page(
            "<section><figure class=chart><svg role=img aria-label=good><title>T</title><desc>D</desc>\
             <g><title>bar</title></g></svg><table></table></figure></section>\
             <figure><svg role=img id=bare><g><title>inner only</title></g></svg></figure>\
             <figure><svg role=img id=unclosed><title>T</title><desc>D</desc><rect width=1/></svg>\
             <table></table></figure>",
        );
        assert_eq!(page.charts.len(), 3);
        let good = &page.charts[0];
        assert!(good.title && good.desc);
        assert!(good.containers.iter().any(|i| page.container_has_table[*i]));
        let bare = &page.charts[1];
        assert!(!bare.title && !bare.desc, "{bare:?}");
        assert!(!bare.containers.iter().any(|i| page.container_has_table[*i]));
        // `width=1/>` does not close the rect; the table still ends the svg, as in a browser.
        let unclosed = &page.charts[2];
        assert!(unclosed.title && unclosed.desc);
        assert!(
            unclosed
                .containers
                .iter()
                .any(|i| page.container_has_table[*i])
        );
    }

    fn site<'a>(
        files: &'a HashSet<&'a str>,
        folders: &'a HashSet<String>,
        pages: &'a HashMap<&'a str, &'a PageScan>,
        svgs: &'a HashMap<&'a str, SvgInfo>,
        base: Option<&str>,
    ) -> Site<'a> {
        Site {
            files,
            folders,
            pages,
            svgs,
            base_path: base.map(base_parts),
        }
    }

    #[test]
    fn svg_fragments_name_views() {
        let files: HashSet<&str> = ["index.html", "c.svg"].into();
        let folders = HashSet::new();
        let pages = HashMap::new();
        let svgs: HashMap<&str, SvgInfo> = [(
            "c.svg",
            SvgInfo {
                title: true,
                desc: true,
                views: vec!["week-2019-03-04".into()],
            },
        )]
        .into();
        let s = site(&files, &folders, &pages, &svgs, None);
        let page = scan_page(
            "<a href=c.svg#week-2019-03-04>ok</a><a href=c.svg>whole</a>\
             <img src=c.svg#week-2019-03-11 alt=x>",
        );
        let (links, _, problems) = s.check_page("index.html", &page);
        assert_eq!(links, 3);
        let missing: Vec<&Problem> = (problems.iter())
            .filter(|p| matches!(p.kind, Kind::MissingFragment))
            .collect();
        assert_eq!(missing.len(), 1, "{problems:?}");
        assert!(missing[0].detail.contains("week-2019-03-11"));
    }

    #[test]
    fn links_resolve_relative_rooted_and_absolute() {
        let files: HashSet<&str> = ["index.html", "ward/3/index.html", "a b.csv"].into();
        let folders: HashSet<String> = ["ward".to_string(), "ward/3".to_string()].into();
        let pages = HashMap::new();
        let svgs = HashMap::new();
        let s = site(
            &files,
            &folders,
            &pages,
            &svgs,
            Some("https://example.org/cwfy/"),
        );
        let found = |from: &str, link: &str| match s.resolve(from, link) {
            Target::Internal(p, _) => s.find(&p),
            Target::External => Some("external".into()),
            Target::Outside => Some("outside".into()),
        };
        assert_eq!(
            found("day/1/index.html", "../../ward/3/index.html").as_deref(),
            Some("ward/3/index.html")
        );
        assert_eq!(
            found("day/1/index.html", "../../ward/3/").as_deref(),
            Some("ward/3/index.html")
        );
        assert_eq!(
            found("index.html", "ward/3").as_deref(),
            Some("ward/3/index.html")
        );
        assert_eq!(found("index.html", "ward/4/"), None);
        assert_eq!(found("index.html", "a%20b.csv").as_deref(), Some("a b.csv"));
        assert_eq!(found("index.html", "../x.html").as_deref(), Some("outside"));
        assert_eq!(
            found("x/y.html", "https://example.org/cwfy/ward/3/").as_deref(),
            Some("ward/3/index.html")
        );
        assert_eq!(
            found("x/y.html", "https://example.org/cwfy").as_deref(),
            Some("index.html")
        );
        assert_eq!(
            found("x/y.html", "/cwfy/index.html").as_deref(),
            Some("index.html")
        );
        assert_eq!(
            found("x/y.html", "https://example.org/other/").as_deref(),
            Some("external")
        );
        assert_eq!(
            found("x/y.html", "https://elsewhere.org/").as_deref(),
            Some("external")
        );
        for skipped in [
            "mailto:a@b.c",
            "tel:+13125551212",
            "data:image/png;base64,AA",
            "//cdn.x/y",
        ] {
            assert_eq!(
                found("index.html", skipped).as_deref(),
                Some("external"),
                "{skipped}"
            );
        }
    }

    #[test]
    fn report_groups_offenders_and_warnings_do_not_fail() {
        let mut report = CheckReport {
            files: 3,
            pages: 2,
            ..Default::default()
        };
        report.problems.push(Problem {
            kind: Kind::Script,
            file: "a.html".into(),
            detail: "1 <script> element".into(),
        });
        assert!(report.ok());
        report.problems.push(Problem {
            kind: Kind::BrokenLink,
            file: "b.html".into(),
            detail: "x.html (no file x.html)".into(),
        });
        assert!(!report.ok());
        let text = report.render();
        assert!(text.contains("1 problem, 1 warning"), "{text}");
        assert!(
            text.contains("Broken links (1):\n  b.html: x.html (no file x.html)"),
            "{text}"
        );
    }
}
