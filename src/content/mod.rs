//! `content/`: Markdown pages with YAML front matter.
//!
//! Every `.md` file under `content/` becomes a [`Page`]. Files under `content/service/` and
//! `content/ward/` are editorial notes the data pages embed (their URL is the data page's); every
//! other file is a page of its own at the URL its path gives (`about/index.md` → `about/`,
//! `about/methodology.md` → `about/methodology/`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub mod wards;

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::Deserialize;

use crate::domain::slugify;

/// A content file that cannot be used. Exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// The file could not be read (or is not UTF-8).
    #[error("{path}: cannot read: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The front matter is missing its closing `---`, is not YAML, or has an unknown key.
    #[error(
        "{path}:{line}: bad front matter: {message}\n  front matter is YAML between two `---` lines; keys: title, layout, section, description, weight, draft, extra"
    )]
    FrontMatter {
        /// The file.
        path: PathBuf,
        /// Line in the file (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Two files want the same URL.
    #[error("{first} and {second} both want the URL /{url}; rename one of them")]
    DuplicateUrl {
        /// One file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
        /// The URL path.
        url: String,
    },
}

/// The front matter keys a page may set.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    /// Page title (required for standalone pages; defaults to the first heading).
    #[serde(default)]
    pub title: Option<String>,
    /// Template name in `templates/` (without `.html`); default `page`.
    #[serde(default)]
    pub layout: Option<String>,
    /// Navigation section the page belongs to (highlights the menu entry).
    #[serde(default)]
    pub section: Option<String>,
    /// Meta description.
    #[serde(default)]
    pub description: Option<String>,
    /// Order within its section (lower first).
    #[serde(default)]
    pub weight: i64,
    /// Drafts are not published.
    #[serde(default)]
    pub draft: bool,
    /// Free keys for templates (`page.extra.*`).
    #[serde(default)]
    pub extra: BTreeMap<String, serde_yaml::Value>,
}

/// What a content file is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageKind {
    /// A page of its own at `url`.
    Standalone,
    /// The editorial note of a service (`content/service/<slug>.md`).
    ServiceNote(String),
    /// The editorial note of a ward (`content/ward/<n>.md`).
    WardNote(String),
}

/// One Markdown file, parsed and rendered.
#[derive(Debug, Clone)]
pub struct Page {
    /// The source file.
    pub source: PathBuf,
    /// What the page is for.
    pub kind: PageKind,
    /// URL path relative to the site root, ending in `/` (empty for the home page).
    pub url: String,
    /// Its front matter.
    pub front: FrontMatter,
    /// The title: front matter, else the first heading, else the file name.
    pub title: String,
    /// The body rendered to HTML (trusted: it is our own content).
    pub html: String,
    /// Table of contents: (level, anchor, text) of each heading.
    pub toc: Vec<(u8, String, String)>,
}

/// All content pages.
#[derive(Debug, Clone, Default)]
pub struct Content {
    /// Pages in URL order.
    pub pages: Vec<Page>,
}

impl Content {
    /// The editorial note of a service slug.
    pub fn service_note(&self, slug: &str) -> Option<&Page> {
        self.pages
            .iter()
            .find(|p| p.kind == PageKind::ServiceNote(slug.to_string()))
    }

    /// The editorial note of a ward.
    pub fn ward_note(&self, ward: u8) -> Option<&Page> {
        self.pages
            .iter()
            .find(|p| p.kind == PageKind::WardNote(ward.to_string()))
    }

    /// Pages that are published at their own URL.
    pub fn standalone(&self) -> impl Iterator<Item = &Page> {
        self.pages.iter().filter(|p| p.kind == PageKind::Standalone)
    }
}

/// Reads every `.md` file under `dir`. A missing folder is an empty site, not an error. Pages
/// with `draft: true` are left out unless `include_drafts` (`cwfy serve --drafts` only).
pub fn load(dir: &Path, include_drafts: bool) -> Result<Content, ContentError> {
    let mut pages = Vec::new();
    if !dir.exists() {
        return Ok(Content { pages });
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| ContentError::Read {
            path: e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| dir.to_path_buf()),
            reason: e.to_string(),
        })?;
        let is_markdown = entry.path().extension().is_some_and(|e| e == "md");
        if entry.file_type().is_file() && is_markdown {
            files.push(entry.path().to_path_buf());
        }
    }
    for path in files {
        let bytes = std::fs::read(&path).map_err(|e| ContentError::Read {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| ContentError::Read {
            path: path.clone(),
            reason: format!(
                "not UTF-8 (byte {}); save the file as UTF-8",
                e.utf8_error().valid_up_to()
            ),
        })?;
        let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
        let page = parse_page(&path, &rel, &text)?;
        if include_drafts || !page.front.draft {
            pages.push(page);
        }
    }
    pages.sort_by(|a, b| a.url.cmp(&b.url).then(a.front.weight.cmp(&b.front.weight)));
    for pair in pages.windows(2) {
        if pair[0].kind == PageKind::Standalone
            && pair[1].kind == PageKind::Standalone
            && pair[0].url == pair[1].url
        {
            return Err(ContentError::DuplicateUrl {
                first: pair[0].source.clone(),
                second: pair[1].source.clone(),
                url: pair[0].url.clone(),
            });
        }
    }
    Ok(Content { pages })
}

/// Parses one file's text; `rel` is its path below `content/`.
pub fn parse_page(path: &Path, rel: &Path, text: &str) -> Result<Page, ContentError> {
    let (front, body) =
        split_front_matter(text).map_err(|(line, message)| ContentError::FrontMatter {
            path: path.to_path_buf(),
            line,
            message,
        })?;
    let (kind, url) = kind_and_url(rel);
    let (html, toc, first_heading) = render_markdown(body);
    let title = front.title.clone().or(first_heading).unwrap_or_else(|| {
        rel.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    Ok(Page {
        source: path.to_path_buf(),
        kind,
        url,
        front,
        title,
        html,
        toc,
    })
}

/// Splits `---\nYAML\n---\nbody` and parses the YAML. Errors carry the line in the whole file.
pub fn split_front_matter(text: &str) -> Result<(FrontMatter, &str), (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(after_open) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return Ok((FrontMatter::default(), text));
    };
    // Find the closing line: `---` alone (or `...`), followed by a newline or the end.
    let mut offset = 0;
    let mut close = None;
    for line in after_open.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare == "---" || bare == "..." {
            close = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let Some((yaml_end, body_start)) = close else {
        return Err((1, "the opening `---` has no closing `---` line".to_string()));
    };
    let yaml = &after_open[..yaml_end];
    let front = if yaml.trim().is_empty() {
        FrontMatter::default()
    } else {
        serde_yaml::from_str::<FrontMatter>(yaml).map_err(|e| {
            // The line in the file, as editors and `lines()` count them: from the error's offset,
            // not serde_yaml's own line count, which also breaks lines at a lone `\r`. The YAML
            // starts on line 2.
            let line = e
                .location()
                .map(|l| 2 + yaml.chars().take(l.index()).filter(|c| *c == '\n').count())
                .unwrap_or(2);
            let message = e.to_string();
            let message = match message.rfind(" at line ") {
                Some(i) => message[..i].to_string(),
                None => message,
            };
            (line, message)
        })?
    };
    Ok((front, &after_open[body_start..]))
}

fn kind_and_url(rel: &Path) -> (PageKind, String) {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let stem = rel
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dirs = &parts[..parts.len().saturating_sub(1)];
    let slugged: Vec<String> = dirs.iter().map(|d| slugify(d)).collect();
    if slugged.len() == 1 && stem != "index" {
        if slugged[0] == "service" {
            return (
                PageKind::ServiceNote(stem.clone()),
                format!("service/{stem}/"),
            );
        }
        if slugged[0] == "ward" {
            return (PageKind::WardNote(stem.clone()), format!("ward/{stem}/"));
        }
    }
    let mut url: String = slugged.iter().map(|d| format!("{d}/")).collect();
    if stem != "index" {
        url.push_str(&slugify(&stem));
        url.push('/');
    }
    (PageKind::Standalone, url)
}

/// Renders Markdown with tables, footnotes, strikethrough and an `id` on every heading.
///
/// Returns the HTML, the table of contents and the text of the first heading.
pub fn render_markdown(body: &str) -> (String, Vec<(u8, String, String)>, Option<String>) {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_SMART_PUNCTUATION;
    let events: Vec<Event> = Parser::new_ext(body, options).collect();

    // First pass: the text of each heading, to make its anchor.
    let mut toc = Vec::new();
    let mut used = BTreeMap::<String, usize>::new();
    let mut anchors = Vec::new();
    let mut i = 0;
    while i < events.len() {
        if let Event::Start(Tag::Heading { level, id, .. }) = &events[i] {
            let mut text = String::new();
            let mut j = i + 1;
            while j < events.len() && !matches!(events[j], Event::End(TagEnd::Heading(_))) {
                if let Event::Text(t) | Event::Code(t) = &events[j] {
                    text.push_str(t);
                }
                j += 1;
            }
            let base = id
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_else(|| slugify(&text));
            let n = used.entry(base.clone()).or_insert(0);
            let anchor = if *n == 0 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            *n += 1;
            toc.push((heading_number(*level), anchor.clone(), text));
            anchors.push(anchor);
            i = j;
        }
        i += 1;
    }

    let mut next_anchor = anchors.into_iter();
    let events = events.into_iter().map(|event| match event {
        Event::Start(Tag::Heading {
            level,
            id: _,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level,
            id: next_anchor.next().map(CowStr::from),
            classes,
            attrs,
        }),
        // Raw HTML in our own Markdown is allowed; data never reaches this renderer.
        other => other,
    });
    let mut html = String::with_capacity(body.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    let first = toc.first().map(|(_, _, t)| t.clone());
    (html, toc, first)
}

fn heading_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_is_split_and_parsed() {
        let (front, body) =
            split_front_matter("---\ntitle: About\nweight: 3\nextra:\n  k: v\n---\n# Hi\n")
                .unwrap();
        assert_eq!(front.title.as_deref(), Some("About"));
        assert_eq!(front.weight, 3);
        assert_eq!(front.extra["k"], serde_yaml::Value::from("v"));
        assert_eq!(body, "# Hi\n");
    }

    #[test]
    fn no_front_matter_is_fine() {
        let (front, body) = split_front_matter("# Title\n\ntext").unwrap();
        assert_eq!(front, FrontMatter::default());
        assert_eq!(body, "# Title\n\ntext");
    }

    #[test]
    fn front_matter_errors_carry_file_lines() {
        let err = split_front_matter("---\ntitle: ok\ntitel: typo\n---\nbody").unwrap_err();
        assert_eq!(err.0, 3, "{err:?}");
        assert!(err.1.contains("titel"), "{err:?}");
        let err = split_front_matter("---\ntitle: ok\n").unwrap_err();
        assert!(err.1.contains("no closing"), "{err:?}");
        let err = split_front_matter("---\ntitle: [unclosed\n---\n").unwrap_err();
        assert!(err.0 >= 2, "{err:?}");
    }

    #[test]
    fn front_matter_error_lines_ignore_lone_carriage_returns() {
        // Found by the front_matter fuzz target: YAML breaks lines at a lone `\r`, so its line
        // numbers ran past the end of the file.
        let text = format!(
            "---\ntitle: é\n  - {}\"x\"\ntitel: typo\n---\nbody\n",
            "\r".repeat(100)
        );
        let err = split_front_matter(&text).unwrap_err();
        assert!(err.0 >= 2 && err.0 <= text.lines().count(), "{err:?}");
        let text = format!("---\ntitle: ok{}\ntitel: typo\n---\n", "\r".repeat(50));
        let err = split_front_matter(&text).unwrap_err();
        assert_eq!(err.0, 3, "{err:?}");
        assert!(err.1.contains("titel"), "{err:?}");
    }

    #[test]
    fn markdown_gets_tables_footnotes_and_anchors() {
        let (html, toc, first) = render_markdown(
            "# Data rules\n\n## Time\n\n## Time\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nNote[^1].\n\n[^1]: Footnote.\n",
        );
        assert!(html.contains(r#"<h1 id="data-rules">"#), "{html}");
        assert!(html.contains(r#"<h2 id="time-1">"#), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("footnote-definition"), "{html}");
        assert_eq!(toc.len(), 3);
        assert_eq!(first.as_deref(), Some("Data rules"));
    }

    #[test]
    fn urls_follow_paths() {
        let k = |p: &str| kind_and_url(Path::new(p));
        assert_eq!(k("about/index.md"), (PageKind::Standalone, "about/".into()));
        assert_eq!(
            k("about/methodology.md"),
            (PageKind::Standalone, "about/methodology/".into())
        );
        assert_eq!(k("index.md"), (PageKind::Standalone, "".into()));
        assert_eq!(
            k("service/potholes.md"),
            (
                PageKind::ServiceNote("potholes".into()),
                "service/potholes/".into()
            )
        );
        assert_eq!(
            k("ward/3.md"),
            (PageKind::WardNote("3".into()), "ward/3/".into())
        );
    }
}
