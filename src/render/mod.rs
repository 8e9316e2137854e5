//! Pages: Tera templates filled from the content and the metrics, sent to the output funnel.
//!
//! Links are relative (`../../ward/3/index.html`), so the site works under any sub-path and
//! straight from disk; absolute URLs (canonical, feeds, sitemap, share links) are built from
//! `base_url`. Every value that came from the city is escaped by Tera's autoescaping: templates
//! never mark data as safe.

pub mod blocks;
pub mod charts;
mod day;
mod service;
mod site;
mod site_pages;
mod tables;
pub mod urls;
mod views;
mod ward;
mod ward_service;
pub mod words;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tera::{Context, Tera};

use crate::aggregate::Metrics;
use crate::config::Config;
use crate::content::wards::WardOffice;
use crate::content::{Content, Page};
use crate::domain::{Day, ServiceAttribute, WardNo};
pub use crate::numbers::{days as format_days, thousands};
use crate::publish::{Output, PublishError};
use crate::store::{PhotoRow, StoreStatus};

/// Rendering failed. Template errors exit with status 2, the rest with 1.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template could not be parsed or rendered.
    #[error("{0}")]
    Template(String),
    /// A page asks for a layout that does not exist.
    #[error(
        "{page}: layout {layout:?} does not exist; add templates/{layout}.html or use one of: {available}"
    )]
    MissingLayout {
        /// The content file.
        page: PathBuf,
        /// The layout it names.
        layout: String,
        /// Layouts that exist.
        available: String,
    },
    /// A chart, map or social card could not be made (a boundary file names itself).
    #[error("{0}")]
    Chart(String),
    /// Writing a file failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// Everything the pages are made from.
pub struct RenderInput<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// Markdown pages and notes.
    pub content: &'a Content,
    /// The metrics.
    pub metrics: &'a Metrics,
    /// Ward offices by ward.
    pub offices: &'a BTreeMap<WardNo, WardOffice>,
    /// Requests with photos in the last 14 days of data.
    pub photos: &'a [PhotoRow],
    /// Store figures for `/status/`.
    pub status: &'a StoreStatus,
    /// Open311 service definitions by service code: the fields each request form asks for.
    pub definitions: &'a BTreeMap<String, Vec<ServiceAttribute>>,
    /// The last day the pages treat as complete.
    pub as_of: Option<Day>,
}

/// What rendering wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RenderReport {
    /// HTML pages.
    pub pages: usize,
    /// Other files (JSON, CSV, SVG, XML…).
    pub files: usize,
}

/// Formats a Tera error with its whole chain (the template name and line are in the chain).
pub fn tera_message(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Templates, and whether their HTML was minified when they were loaded.
pub struct Templates {
    /// The templates.
    pub tera: Tera,
    /// Every HTML template was minified once at load (see [`load_templates`]), so the pages they
    /// render are written as they are; otherwise each page goes through the minifier.
    pub preminified: bool,
}

/// Loads every template in `dir`.
///
/// HTML templates are minified once here, Tera syntax kept (minify-html's brace-template mode),
/// rather than every page after rendering: that cost a tenth of a build. A template the
/// minifier cannot handle (Tera tags inside a tag, such as `<a{% if x %} id="y"{% endif %}>`,
/// are not kept whole) would be broken, so when any template's Tera tags differ after
/// minifying, or Tera rejects the result, every template is used as written and pages are
/// minified one by one instead.
pub fn load_templates(dir: &Path) -> Result<Templates, RenderError> {
    if !dir.is_dir() {
        return Err(RenderError::Template(format!(
            "{}: the templates folder does not exist; set site.templates in config.yaml",
            dir.display()
        )));
    }
    let mut sources = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| {
            RenderError::Template(format!("{}: {e}; check the folder", dir.display()))
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let name = path
            .strip_prefix(dir)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(path).map_err(|e| {
            RenderError::Template(format!("{}: {e}; check the file", path.display()))
        })?;
        sources.push((name, text));
    }
    let minified: Result<Vec<(String, String)>, &str> = sources
        .iter()
        .map(|(name, text)| {
            if !name.ends_with(".html") {
                return Ok((name.clone(), text.clone()));
            }
            match crate::publish::minify_template(text) {
                Some(out) if tera_tags(&out) == tera_tags(text) => Ok((name.clone(), out)),
                _ => Err(name.as_str()),
            }
        })
        .collect();
    match minified.map(tera_from) {
        Ok(Ok(tera)) => {
            return Ok(Templates {
                tera,
                preminified: true,
            });
        }
        Err(name) => tracing::info!(
            "templates/{name} has a Tera tag among a tag's attributes, which the minifier cannot keep: every page is minified after rendering instead (slower); put the condition inside the attribute's value"
        ),
        // Tera's own error is reported below, from the templates as written.
        Ok(Err(_)) => {}
    }
    let tera = tera_from(sources).map_err(|e| {
        RenderError::Template(format!(
            "{}: {}\n  fix the template and build again",
            dir.display(),
            tera_message(&e)
        ))
    })?;
    Ok(Templates {
        tera,
        preminified: false,
    })
}

fn tera_from(sources: Vec<(String, String)>) -> Result<Tera, tera::Error> {
    let mut tera = Tera::default();
    tera.add_raw_templates(sources)?;
    tera.autoescape_on(vec![".html", ".xml", ".svg"]);
    // Tera's default escaping also writes `/` as `&#x2F;`, which every URL in a page repeats
    // and only the page minifier used to undo; `&`, `<`, `>` and both quotes are what HTML
    // and XML need.
    tera.set_escape_fn(xml_escape);
    tera.register_filter("thousands", thousands_filter);
    tera.register_filter("days", days_filter);
    tera.register_filter("urlencode", urlencode_filter);
    Ok(tera)
}

/// The Tera tags (`{{ }}`, `{% %}`, `{# #}`) of a template, sorted: the minifier may reorder a
/// tag's attributes, never change a Tera tag.
fn tera_tags(template: &str) -> Vec<&str> {
    let mut tags = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find(['{']) {
        let close = match rest.as_bytes().get(start + 1) {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            Some(b'#') => "#}",
            _ => {
                rest = &rest[start + 1..];
                continue;
            }
        };
        match rest[start + 2..].find(close) {
            Some(end) => {
                let end = start + 2 + end + 2;
                tags.push(&rest[start..end]);
                rest = &rest[end..];
            }
            None => {
                tags.push(&rest[start..]);
                break;
            }
        }
    }
    tags.sort_unstable();
    tags
}

fn thousands_filter(
    v: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    match v.as_u64().or_else(|| v.as_i64().map(|i| i.unsigned_abs())) {
        Some(n) => {
            let sign = if v.as_i64().is_some_and(|i| i < 0) {
                "-"
            } else {
                ""
            };
            Ok(tera::Value::String(format!("{sign}{}", thousands(n))))
        }
        None => Ok(v.clone()),
    }
}

fn days_filter(
    v: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    Ok(match v.as_f64() {
        Some(d) => tera::Value::String(format_days(d)),
        None => tera::Value::String("—".into()),
    })
}

/// Percent-encodes a string for a URL query.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn urlencode_filter(
    v: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    Ok(tera::Value::String(urlencode(
        v.as_str().unwrap_or_default(),
    )))
}

/// The relative prefix from a page at `url` (`ward/3/`) back to the site root (`../../`).
pub fn root_of(url: &str) -> String {
    "../".repeat(url.split('/').filter(|p| !p.is_empty()).count())
}

/// The file a page URL is written to: `ward/3/` → `ward/3/index.html`, `` → `index.html`.
pub fn file_of(url: &str) -> String {
    if url.is_empty() || url.ends_with('/') {
        format!("{url}index.html")
    } else {
        url.to_string()
    }
}

/// A navigation entry.
#[derive(Debug, Clone, Serialize)]
pub struct NavItem {
    /// Label.
    pub label: String,
    /// Link relative to the root.
    pub href: String,
    /// Section name pages set to highlight it.
    pub section: &'static str,
}

/// The site navigation (pages and URLs, docs/ARCHITECTURE.md); the districts' entry uses the
/// city's word for them.
pub fn nav(terms: &crate::domain::Terms) -> Vec<NavItem> {
    let item = |label: &str, href: String, section| NavItem {
        label: label.to_string(),
        href,
        section,
    };
    vec![
        item("Home", "index.html".into(), "home"),
        item(
            &terms.many_title,
            format!("{}/index.html", terms.one),
            "ward",
        ),
        item("Services", "service/index.html".into(), "service"),
        item("Photos", "photos/index.html".into(), "photos"),
        item("Data", "data/index.html".into(), "data"),
        item("About", "about/index.html".into(), "about"),
    ]
}

/// Shared state for writing pages.
pub struct Renderer<'a> {
    /// Templates.
    pub tera: Tera,
    /// The templates were minified at load: pages are written as rendered.
    preminified: bool,
    /// Inputs.
    pub input: &'a RenderInput<'a>,
    /// The funnel.
    pub out: &'a Output,
    base: Context,
    /// What every page depends on besides its figures (see [`build_fingerprint`]).
    fingerprint: u128,
}

/// Sums up the inputs of one unit of the site (a page with its files) for [`Output::unit`]:
/// two SipHash lanes, 128 bits. Change detection between builds, not security.
pub struct UnitKey {
    a: std::hash::DefaultHasher,
    b: std::hash::DefaultHasher,
}

impl UnitKey {
    /// A key that starts from the build's fingerprint.
    pub fn new(fingerprint: u128) -> UnitKey {
        use std::hash::Hash;
        let mut key = UnitKey {
            a: Default::default(),
            b: Default::default(),
        };
        0x5f3c_u16.hash(&mut key.b);
        key.with(&fingerprint)
    }

    /// Adds a value.
    pub fn with<T: std::hash::Hash + ?Sized>(mut self, value: &T) -> UnitKey {
        value.hash(&mut self.a);
        value.hash(&mut self.b);
        self
    }

    /// The key.
    pub fn finish(&self) -> u128 {
        use std::hash::Hasher;
        (u128::from(self.a.finish()) << 64) | u128::from(self.b.finish())
    }
}

/// The build's fingerprint: everything a page depends on besides its own figures. The binary
/// (its size and modification time: a new cwfy may draw differently), the configuration, the
/// ward offices, the templates, the boundary files and the services' names and
/// slugs. When any of them changes, every unit is made again. The content is not in it: the
/// Markdown pages are made on every build, and each ward or service note is in the keys of the
/// pages that show it, so editing one makes only those again.
fn build_fingerprint(input: &RenderInput) -> u128 {
    let config = input.config;
    // Where the project lives is left out, and files are named from it: `cwfy build` in the
    // project's folder and a nightly `cwfy --config /srv/city/config.yaml update` make the same
    // pages, and a key that held the spelling of the folder made every page again.
    let described = Config {
        root: PathBuf::new(),
        ..config.clone()
    };
    let mut key = UnitKey::new(0)
        .with(env!("CARGO_PKG_VERSION"))
        .with(&format!("{described:?}"))
        .with(&format!("{:?}", input.offices))
        .with(input.definitions)
        .with(&input.metrics.wards);
    if let Ok(meta) = std::env::current_exe().and_then(std::fs::metadata) {
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        key = key.with(&meta.len()).with(&modified);
    }
    let templates = config.resolve(&config.site.templates);
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&templates)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.extend(config.boundaries.iter().map(|m| config.resolve(&m.file)));
    files.sort();
    for file in files {
        let name = file.strip_prefix(&config.root).unwrap_or(&file);
        key = key.with(&name).with(&std::fs::read(&file).ok());
    }
    for s in &input.metrics.services {
        key = key
            .with(&s.slug)
            .with(&s.name)
            .with(&s.featured)
            .with(&s.codes)
            .with(&s.source_names);
    }
    key.finish()
}

/// What every page's `<head>` says about it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PageMeta {
    /// `<title>` (the site title is appended).
    pub title: String,
    /// Meta and OpenGraph description.
    pub description: String,
    /// Navigation section.
    pub section: String,
    /// Social card image, relative to the root.
    pub image: Option<String>,
}

impl<'a> Renderer<'a> {
    /// Prepares templates and the context every page shares.
    pub fn new(input: &'a RenderInput<'a>, out: &'a Output) -> Result<Renderer<'a>, RenderError> {
        let config = input.config;
        let templates = load_templates(&config.resolve(&config.site.templates))?;
        let terms = config.terms();
        // Addresses and sentences everywhere read the city's word for a district from here.
        terms.clone().install();
        let mut base = Context::new();
        base.insert("terms", &terms);
        base.insert(
            "site",
            &SiteView {
                title: &config.site.title,
                description: &config.site.description,
                base_url: config.site.base_url.as_str(),
                language: &config.site.language,
                city: &config.city.name,
                disclaimer: &config.city.disclaimer,
                publisher: &config.city.data_publisher,
                wards: config.ward_count(),
                districts_from: match config.city.districts_from {
                    crate::config::DistrictsFrom::Record => "record",
                    crate::config::DistrictsFrom::Location => "location",
                },
            },
        );
        base.insert("nav", &nav(&terms));
        insert_through(&mut base, config, input.as_of);
        Ok(Renderer {
            tera: templates.tera,
            preminified: templates.preminified,
            input,
            out,
            base,
            fingerprint: build_fingerprint(input),
        })
    }

    /// A unit key that already holds the build's fingerprint.
    pub fn unit_key(&self) -> UnitKey {
        UnitKey::new(self.fingerprint)
    }

    /// Sets what a page's footer and citations say about the data it shows: "data through
    /// `through`". A page of a past day or week says that day or the week's end, so it stays the
    /// same (and is not made again) as new days arrive.
    pub fn set_through(&self, ctx: &mut Context, through: Option<Day>) {
        insert_through(ctx, self.input.config, through);
    }

    /// Renders `template` for the page at `url` and writes it.
    pub fn page(
        &self,
        url: &str,
        template: &str,
        meta: &PageMeta,
        extra: Context,
    ) -> Result<(), RenderError> {
        let html = self.render_page(url, template, meta, extra)?;
        self.write_html(&file_of(url), &html)
    }

    /// Writes a rendered page: as it is when its templates were minified at load.
    fn write_html(&self, rel: &str, html: &str) -> Result<(), RenderError> {
        if self.preminified {
            self.out.write_exact(rel, html.as_bytes())?;
        } else {
            self.out.write(rel, html.as_bytes())?;
        }
        Ok(())
    }

    /// Writes a page at `url` that sends its readers to `#fragment` of the page at `target`,
    /// without JavaScript: a meta refresh, a link, and `rel=canonical` for search engines. For
    /// addresses an earlier build published whose content now lives elsewhere.
    pub fn redirect(
        &self,
        url: &str,
        target: &str,
        fragment: &str,
        title: &str,
    ) -> Result<(), RenderError> {
        let esc = |t: &str| tera::escape_html(t);
        let to = format!("{}{target}#{fragment}", root_of(url));
        let canonical = self.input.config.site.base_url.join(target);
        let html = format!(
            "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <title>{title}</title><meta http-equiv=\"refresh\" content=\"0; url={to}\">\
             <link rel=\"canonical\" href=\"{canonical}\"><meta name=\"robots\" content=\"noindex\">\
             </head><body><p>This page has moved: <a href=\"{to}\">{title}</a>.</p></body></html>",
            lang = esc(&self.input.config.site.language),
            title = esc(title),
            to = esc(&to),
            canonical = esc(&canonical),
        );
        self.out.write(&file_of(url), html.as_bytes())?;
        Ok(())
    }

    /// Renders without writing.
    pub fn render_page(
        &self,
        url: &str,
        template: &str,
        meta: &PageMeta,
        extra: Context,
    ) -> Result<String, RenderError> {
        // The page's own context is moved in, not copied: it is most of the values.
        let mut ctx = self.base.clone();
        ctx.extend(extra);
        ctx.insert("root", &root_of(url));
        ctx.insert("url", url);
        ctx.insert("permalink", &self.input.config.site.base_url.join(url));
        ctx.insert("meta", meta);
        self.render(template, &ctx)
    }

    /// Renders a template with a full context.
    pub fn render(&self, template: &str, ctx: &Context) -> Result<String, RenderError> {
        if !self.tera.get_template_names().any(|n| n == template) {
            return Err(RenderError::Template(format!(
                "template {template:?} is missing from {}; restore it from the cwfy repository",
                self.input.config.site.templates.display()
            )));
        }
        let html = self.tera.render(template, ctx).map_err(|e| {
            RenderError::Template(format!(
                "templates/{template}: {}\n  fix the template and build again",
                tera_message(&e)
            ))
        })?;
        blocks::splice(html).map_err(|marker| {
            RenderError::Template(format!(
                "templates/{template}: a block marker {marker:?} names no chart or table made for \
                 this page (a bug in cwfy; please report it)"
            ))
        })
    }

    /// Makes one unit of the site ([`Output::unit`]), then drops the chart and table blocks
    /// its pages held ([`blocks`]).
    pub fn unit<T>(
        &self,
        name: &str,
        key: u128,
        make: impl FnOnce() -> Result<T, RenderError>,
    ) -> Result<crate::publish::UnitOutcome<T>, RenderError> {
        let mark = blocks::mark();
        let outcome = self.out.unit(name, key, make);
        blocks::release(mark);
        outcome
    }

    /// Writes every standalone Markdown page through its layout.
    pub fn content_pages(&self) -> Result<usize, RenderError> {
        let mut n = 0;
        let layouts: Vec<String> = self
            .tera
            .get_template_names()
            .filter(|t| t.ends_with(".html") && !t.contains('/') && !t.starts_with('_'))
            .map(|t| t.trim_end_matches(".html").to_string())
            .collect();
        for page in self.input.content.standalone() {
            let layout = page.front.layout.clone().unwrap_or_else(|| "page".into());
            if !layouts.contains(&layout) {
                let mut available = layouts.clone();
                available.sort();
                return Err(RenderError::MissingLayout {
                    page: page.source.clone(),
                    layout,
                    available: available.join(", "),
                });
            }
            let meta = PageMeta {
                title: page.title.clone(),
                description: page.front.description.clone().unwrap_or_default(),
                section: page
                    .front
                    .section
                    .clone()
                    .unwrap_or_else(|| first_segment(&page.url)),
                image: None,
            };
            let mut ctx = Context::new();
            ctx.insert("page", &page_context(page, self.input.content));
            // Minified whole: the Markdown's HTML comes in as it is, not from a template.
            self.render_page(&page.url, &format!("{layout}.html"), &meta, ctx)
                .and_then(|html| Ok(self.out.write(&file_of(&page.url), html.as_bytes())?))
                .map_err(|e| match e {
                    RenderError::Template(m) => RenderError::Template(format!(
                        "{} (rendering {})",
                        m,
                        page.source.display()
                    )),
                    other => other,
                })?;
            n += 1;
        }
        Ok(n)
    }
}

fn first_segment(url: &str) -> String {
    url.split('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("home")
        .to_string()
}

/// What every page's template sees of the site (`site`).
#[derive(Serialize)]
struct SiteView<'c> {
    title: &'c str,
    description: &'c str,
    base_url: &'c str,
    language: &'c str,
    /// The city's name.
    city: &'c str,
    /// The city's data disclaimer, shown at the foot of every page.
    disclaimer: &'c str,
    /// Who publishes the data.
    publisher: &'c str,
    wards: WardNo,
    /// `record` or `location` (`city.districts_from`).
    districts_from: &'static str,
}

/// The `page` object templates see for a Markdown page.
#[derive(Serialize)]
struct PageView<'p> {
    title: &'p str,
    /// The page as HTML.
    content: &'p str,
    description: Option<&'p str>,
    section: String,
    extra: &'p BTreeMap<String, serde_yaml::Value>,
    toc: Vec<TocEntry<'p>>,
    /// A draft (`draft: true`), shown only by `cwfy serve --drafts`.
    draft: bool,
    /// The pages of the same section, for its menu.
    siblings: Vec<Sibling<'p>>,
}

/// A heading in a page's table of contents.
#[derive(Serialize)]
struct TocEntry<'p> {
    level: u8,
    id: &'p str,
    title: &'p str,
}

/// A page of the same section.
#[derive(Serialize)]
struct Sibling<'p> {
    title: &'p str,
    href: String,
    current: bool,
    weight: i64,
}

/// The `page` object templates see for a Markdown page.
fn page_context<'p>(page: &'p Page, content: &'p Content) -> PageView<'p> {
    let section = first_segment(&page.url);
    let siblings = content
        .standalone()
        .filter(|p| first_segment(&p.url) == section)
        .map(|p| Sibling {
            title: &p.title,
            href: file_of(&p.url),
            current: p.url == page.url,
            weight: p.front.weight,
        })
        .collect();
    PageView {
        title: &page.title,
        content: &page.html,
        description: page.front.description.as_deref(),
        section,
        extra: &page.front.extra,
        toc: page
            .toc
            .iter()
            .map(|(level, id, title)| TocEntry {
                level: *level,
                id,
                title,
            })
            .collect(),
        draft: page.front.draft,
        siblings,
    }
}

/// `data_through` and `citation` of a page context (the site's, or a page's own).
fn insert_through(ctx: &mut Context, config: &Config, through: Option<Day>) {
    ctx.insert("data_through", &through.map(|d| d.to_string()));
    ctx.insert("citation", &citation(config, through));
}

/// "Source: City of Chicago 311, data through DATE, cwfy".
pub fn citation(config: &Config, through: Option<Day>) -> String {
    match through {
        Some(d) => format!(
            "Source: {} via Open311, data through {d}, cwfy",
            config.city.data_publisher
        ),
        None => format!("Source: {} via Open311, cwfy", config.city.data_publisher),
    }
}

/// Renders the whole site into `out`.
pub fn render_site(input: &RenderInput, out: &Output) -> Result<RenderReport, RenderError> {
    let r = Renderer::new(input, out)?;
    let mut report = RenderReport::default();
    report.pages += r.content_pages()?;
    let dash = site::render(&r)?;
    report.pages += dash.pages;
    report.files += dash.files;
    report.files += site_files(&r)?;
    report.pages += 1;
    Ok(report)
}

/// `404.html`, `robots.txt` and `sitemap.xml`.
fn site_files(r: &Renderer) -> Result<usize, RenderError> {
    let meta = PageMeta {
        title: "Page not found".into(),
        description: "This page does not exist.".into(),
        section: String::new(),
        image: None,
    };
    // The 404 page is served at any depth, so its links are absolute from base_url.
    let mut ctx = Context::new();
    ctx.insert("absolute_root", r.input.config.site.base_url.as_str());
    let mut html_ctx = r.base.clone();
    html_ctx.extend(ctx);
    html_ctx.insert("root", r.input.config.site.base_url.as_str());
    html_ctx.insert("url", "404.html");
    html_ctx.insert("permalink", &r.input.config.site.base_url.join("404.html"));
    html_ctx.insert("meta", &meta);
    let html = r.render("404.html", &html_ctx)?;
    r.write_html("404.html", &html)?;

    let base = r.input.config.site.base_url.as_str();
    let robots = format!("User-agent: *\nAllow: /\n\nSitemap: {base}sitemap.xml\n");
    r.out.write("robots.txt", robots.as_bytes())?;

    Ok(2)
}

/// Writes `sitemap.xml` (an index of `sitemap-1.xml`, `sitemap-2.xml`, … over 50,000 pages)
/// listing every page of the staged site: this build's and the ones kept from earlier builds,
/// so it runs after [`Output::keep_earlier`] (which leaves out earlier sitemaps, see
/// [`is_sitemap`]). Returns how many files it wrote.
pub fn write_sitemaps(
    out: &Output,
    base_url: &crate::config::BaseUrl,
) -> Result<usize, RenderError> {
    let mut pages: Vec<String> = out
        .paths_ending_with("index.html")
        .into_iter()
        .map(|p| p.trim_end_matches("index.html").to_string())
        .collect();
    pages.sort();
    let urls: Vec<String> = pages.iter().map(|p| base_url.join(p)).collect();
    let files = sitemaps(&urls, |name| base_url.join(name), SITEMAP_URLS);
    for (name, xml) in &files {
        out.write(name, xml.as_bytes())?;
    }
    Ok(files.len())
}

/// Whether a site path is one of the files [`write_sitemaps`] writes: every build writes its
/// own, so none is kept from an earlier build.
pub fn is_sitemap(rel: &str) -> bool {
    rel == "sitemap.xml"
        || rel
            .strip_prefix("sitemap-")
            .and_then(|r| r.strip_suffix(".xml"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The sitemaps protocol's limit of URLs in one file (sitemaps.org).
const SITEMAP_URLS: usize = 50_000;

/// `sitemap.xml` listing `urls`; over `limit` URLs (a whole history of pages at city scale),
/// `sitemap.xml` is an index of `sitemap-1.xml`, `sitemap-2.xml`, … of at most `limit` each.
/// Returns each file's name and text; `url_of` makes a file name absolute.
fn sitemaps(
    urls: &[String],
    url_of: impl Fn(&str) -> String,
    limit: usize,
) -> Vec<(String, String)> {
    let urlset = |urls: &[String]| {
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
        );
        for url in urls {
            xml.push_str("  <url><loc>");
            xml.push_str(&xml_escape(url));
            xml.push_str("</loc></url>\n");
        }
        xml.push_str("</urlset>\n");
        xml
    };
    if urls.len() <= limit {
        return vec![("sitemap.xml".to_string(), urlset(urls))];
    }
    let mut files: Vec<(String, String)> = urls
        .chunks(limit.max(1))
        .enumerate()
        .map(|(i, chunk)| (format!("sitemap-{}.xml", i + 1), urlset(chunk)))
        .collect();
    let mut index = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for (name, _) in &files {
        index.push_str("  <sitemap><loc>");
        index.push_str(&xml_escape(&url_of(name)));
        index.push_str("</loc></sitemap>\n");
    }
    index.push_str("</sitemapindex>\n");
    files.insert(0, ("sitemap.xml".to_string(), index));
    files
}

/// Escapes text for XML and HTML (the same escaping the charts use for SVG).
pub use crate::charts::escape as xml_escape;

/// A table of text as compact HTML: caption, column headings, then rows whose first cell heads
/// the row. Every caption, heading and cell is escaped here.
///
/// Big tables (a ward × service page has one row per week of the whole history) are written
/// here rather than in a template: a Tera loop over them, and minifying them afterwards, cost
/// more than the rest of such a page. The publisher sets `<table>` blocks aside from minifying.
pub fn html_table<R, C>(caption: &str, header: &[String], rows: R) -> String
where
    R: IntoIterator,
    R::Item: IntoIterator<Item = C>,
    C: AsRef<str>,
{
    let mut html = String::with_capacity(256);
    html.push_str("<table><caption>");
    push_text(&mut html, caption);
    html.push_str("</caption><thead><tr>");
    for h in header {
        html.push_str("<th scope=col>");
        push_text(&mut html, h);
        html.push_str("</th>");
    }
    html.push_str("</tr></thead><tbody>");
    // Body rows leave out the end tags of cells and rows, which HTML makes optional (a cell
    // ends at the next cell, a row at the next row or the end of the body): a third of a long
    // table's bytes, and the table of a ward × service page has a row per week.
    for row in rows {
        html.push_str("<tr>");
        for (i, cell) in row.into_iter().enumerate() {
            html.push_str(if i == 0 { "<th scope=row>" } else { "<td>" });
            push_cell(&mut html, cell.as_ref());
        }
    }
    html.push_str("</tbody></table>");
    html
}

/// Appends a table cell: a count as people read it (`12,311`; the CSV keeps `12311`), anything
/// else escaped.
fn push_cell(html: &mut String, text: &str) {
    if text.len() > 3 && text.bytes().all(|b| b.is_ascii_digit()) {
        match text.parse::<u64>() {
            Ok(n) => html.push_str(&thousands(n)),
            Err(_) => html.push_str(text),
        }
    } else {
        push_text(html, text);
    }
}

/// Appends `text` escaped for an HTML text node (not an attribute: quotes stay as they are,
/// as the minifier would leave them).
fn push_text(html: &mut String, text: &str) {
    let mut rest = text;
    while let Some(i) = rest.find(['&', '<', '>']) {
        html.push_str(&rest[..i]);
        html.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            _ => "&gt;",
        });
        rest = &rest[i + 1..];
    }
    html.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sitemap_over_the_limit_becomes_an_index_of_sitemaps() {
        let url_of = |name: &str| format!("https://x.org/{name}");
        let urls: Vec<String> = (1..=5).map(|i| format!("https://x.org/day/{i}/")).collect();
        let one = sitemaps(&urls, url_of, 5);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].0, "sitemap.xml");
        assert_eq!(one[0].1.matches("<url><loc>").count(), 5);

        let split = sitemaps(&urls, url_of, 2);
        let names: Vec<&str> = split.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "sitemap.xml",
                "sitemap-1.xml",
                "sitemap-2.xml",
                "sitemap-3.xml"
            ]
        );
        let index = &split[0].1;
        assert!(index.contains("<sitemapindex "), "{index}");
        assert!(
            index.contains("<loc>https://x.org/sitemap-3.xml</loc>"),
            "{index}"
        );
        assert!(!index.contains("<url>"), "{index}");
        // Every URL once, in order, at most two a file.
        let listed: Vec<&str> = split[1..]
            .iter()
            .flat_map(|(_, xml)| {
                assert!(xml.matches("<url>").count() <= 2, "{xml}");
                xml.split("<loc>")
                    .skip(1)
                    .map(|l| &l[..l.find('<').unwrap()])
            })
            .collect();
        assert_eq!(listed, urls);
    }

    #[test]
    fn relative_roots_and_files() {
        assert_eq!(root_of(""), "");
        assert_eq!(root_of("about/"), "../");
        assert_eq!(root_of("ward/3/week/2021-01-04/"), "../../../../");
        assert_eq!(file_of("ward/3/"), "ward/3/index.html");
        assert_eq!(file_of(""), "index.html");
        assert_eq!(file_of("feeds/ward/3.xml"), "feeds/ward/3.xml");
    }

    #[test]
    fn numbers_read_well() {
        // thousands and format_days are numbers.rs's, tested there.
        assert_eq!(urlencode("a b&c"), "a%20b%26c");
        assert_eq!(
            xml_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn templates_are_minified_once_at_load_unless_the_minifier_would_break_one() {
        let project = load_templates(Path::new("templates")).unwrap();
        assert!(
            project.preminified,
            "the project's own templates must minify whole"
        );
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "page.html",
            "<ul>\n  <li class=\"a\">{{ x }}</li>\n  <li>{% if y %}yes{% endif %}</li>\n</ul>\n",
        );
        let mut ctx = Context::new();
        ctx.insert("x", "<b>/</b>");
        ctx.insert("y", &true);
        let t = load_templates(dir.path()).unwrap();
        assert!(t.preminified);
        assert_eq!(
            t.tera.render("page.html", &ctx).unwrap(),
            "<ul><li class=a>&lt;b&gt;/&lt;/b&gt;</li><li>yes</li></ul>"
        );
        // Tera tags inside a tag do not survive the minifier: every template is used as written.
        write(
            "link.html",
            "<a href=\"/\"{% if y %} id=\"z\"{% endif %}>t</a>\n",
        );
        let t = load_templates(dir.path()).unwrap();
        assert!(!t.preminified);
        assert_eq!(
            t.tera.render("link.html", &ctx).unwrap(),
            "<a href=\"/\" id=\"z\">t</a>\n"
        );
        assert!(
            t.tera
                .render("page.html", &ctx)
                .unwrap()
                .contains("\n  <li")
        );
    }

    #[test]
    fn html_tables_head_rows_and_escape_every_cell() {
        let html = html_table(
            "Wards & <b>",
            &["Ward".to_string(), "Opened".to_string()],
            [["1", "<script>"], ["2", "O'Hare \"3\""], ["3", "12311"]],
        );
        assert_eq!(
            html,
            "<table><caption>Wards &amp; &lt;b&gt;</caption><thead><tr><th scope=col>Ward</th><th scope=col>Opened</th></tr></thead><tbody><tr><th scope=row>1<td>&lt;script&gt;<tr><th scope=row>2<td>O'Hare \"3\"<tr><th scope=row>3<td>12,311</tbody></table>"
        );
    }
}
