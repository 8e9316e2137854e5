//! `cwfy serve` as a preview (the default): build the site, serve it live, watch the sources and
//! rebuild after every edit.
//!
//! The watcher polls the modification times and sizes of the files under `content/`,
//! `templates/`, `static/`, the ward offices file and the config itself, four times a second (a
//! few hundred files: no measurable cost, and it works on every file system, network and
//! container mounts included, where change notifications often do not). A change is rebuilt once
//! the files have stopped changing for one poll, so an editor's several writes make one rebuild.
//!
//! A rebuild is an ordinary build into the same folder: the unit keys keep every page whose
//! inputs did not change, and publishing swaps the folder atomically, so the server only ever
//! sends the old site or the new one. A failed rebuild (a broken template, bad front matter, a
//! config that does not parse) leaves the last good site served, and its error goes to the
//! terminal and, through the live server, onto every page until the next good build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};

use crate::config::Config;
use crate::pipeline::{BuildOptions, Pipeline, RunLock};
use crate::serve::{Live, Server, open_browser};

/// How often the watcher looks at the files.
const POLL: Duration = Duration::from_millis(250);

/// What `cwfy serve` was asked to do.
#[derive(Debug, Clone)]
pub struct PreviewOptions {
    /// The config file.
    pub config: PathBuf,
    /// The folder to build into and serve (default: the config's `site.output`, or
    /// `<output>-drafts` with drafts).
    pub output: Option<PathBuf>,
    /// The port (0 picks a free one).
    pub port: u16,
    /// Include pages marked `draft: true`.
    pub drafts: bool,
    /// Open a browser on the site.
    pub open: bool,
    /// No progress bars.
    pub quiet: bool,
}

/// Builds, serves and rebuilds until the process is stopped. Fails only when the first config
/// cannot be read or the port cannot be bound; a failing build is shown, not fatal.
pub fn run(options: &PreviewOptions) -> Result<()> {
    let config = Config::load(&options.config)?;
    let output = options
        .output
        .clone()
        .unwrap_or_else(|| default_output(&config, options.drafts));
    let live = Live::new();
    build(options, &output, &live);
    if !output.is_dir() {
        // The first build failed before anything was published: serve an empty folder, whose
        // pages say why.
        std::fs::create_dir_all(&output)
            .with_context(|| format!("cannot create {}", output.display()))?;
    }
    let server = Server::bind(&output, options.port)?.with_live(live.clone());
    let url = format!("http://{}/", server.local_addr());
    let mut watched = watched_paths(&options.config, Some(&config));
    println!(
        "serving {} at {url} and rebuilding it when {} change{} (Ctrl-C to stop)",
        output.display(),
        describe(&watched, &config.root),
        if options.drafts {
            "; drafts included"
        } else {
            ""
        }
    );
    std::thread::spawn(move || server.run());
    if options.open {
        open_browser(&url);
    }
    let mut before = snapshot(&watched);
    loop {
        std::thread::sleep(POLL);
        let now = snapshot(&watched);
        if now == before {
            continue;
        }
        // Wait for the editor to finish writing: one quiet poll.
        let mut settled = now;
        loop {
            std::thread::sleep(POLL);
            let again = snapshot(&watched);
            if again == settled {
                break;
            }
            settled = again;
        }
        let changed = differences(&before, &settled, &config.root);
        tracing::info!("changed: {changed}; rebuilding");
        let read = build(options, &output, &live);
        // What the build read is what counts as seen: an edit saved while it ran is compared
        // against that, so it makes the next rebuild. The config may now name other folders.
        let now_watched = watched_paths(&options.config, read.as_ref());
        before = if now_watched == watched {
            settled
        } else {
            watched = now_watched;
            snapshot(&watched)
        };
    }
}

/// Where a preview builds when no folder is named: the site's own output folder, or, with drafts,
/// a folder beside it, so that drafts never reach the folder that gets published.
pub fn default_output(config: &Config, drafts: bool) -> PathBuf {
    let output = config.resolve(&config.site.output);
    if !drafts {
        return output;
    }
    let mut name = output
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "site".into());
    name.push("-drafts");
    output.with_file_name(name)
}

/// One build into `output` with the config as it is now; the server is told, then the terminal
/// (in that order, so a page fetched after the log line shows the outcome). Returns the config
/// the build read, when it could be read.
fn build(options: &PreviewOptions, output: &Path, live: &Live) -> Option<Config> {
    let started = Instant::now();
    let (result, config) = match Config::load(&options.config) {
        Ok(config) => {
            let built = (|| {
                let _lock = RunLock::acquire(&config)?;
                let build = BuildOptions {
                    output: Some(output.to_path_buf()),
                    as_of: None,
                    drafts: options.drafts,
                    // A drafts preview is never published: it shows exactly the sources.
                    prune: options.drafts,
                };
                Pipeline::new(&config, options.quiet).build(&build, None)
            })();
            (built, Some(config))
        }
        Err(e) => (Err(e.into()), None),
    };
    live.rebuilt(result.as_ref().err().map(|e| format!("{e:#}")));
    match &result {
        Ok(summary) => tracing::info!(
            "rebuilt in {:.1} s: {} files written, {} unchanged, {} removed",
            started.elapsed().as_secs_f64(),
            summary.publish.written,
            summary.publish.unchanged,
            summary.publish.removed
        ),
        Err(e) => tracing::error!(
            "the rebuild failed; still serving the last good site. {e:#}\n  fix it and save: the site rebuilds by itself"
        ),
    }
    config
}

/// The files and folders to watch: the config, and the content, templates, static files and ward
/// offices it names (or the usual names when it cannot be read).
fn watched_paths(config_file: &Path, config: Option<&Config>) -> Vec<PathBuf> {
    let mut paths = vec![config_file.to_path_buf()];
    match config {
        Some(c) => {
            paths.push(c.resolve(&c.site.content));
            paths.push(c.resolve(&c.site.templates));
            paths.push(c.resolve(&c.site.static_dir));
            paths.extend(c.district_offices.as_ref().map(|p| c.resolve(p)));
        }
        None => {
            let root = config_file.parent().unwrap_or(Path::new("."));
            paths.extend(["content", "templates", "static"].map(|d| root.join(d)));
        }
    }
    paths
}

/// The watched paths as the terminal line names them, relative to the project.
fn describe(paths: &[PathBuf], root: &Path) -> String {
    paths
        .iter()
        .map(|p| {
            let shown = p.strip_prefix(root).unwrap_or(p).display().to_string();
            if p.is_dir() {
                format!("{shown}/")
            } else {
                shown
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Modification time and size of every watched file.
type Snapshot = BTreeMap<PathBuf, (Option<SystemTime>, u64)>;

fn snapshot(paths: &[PathBuf]) -> Snapshot {
    let mut files = Snapshot::new();
    for path in paths {
        for entry in walkdir::WalkDir::new(path)
            .into_iter()
            .filter_map(Result::ok)
        {
            if !entry.file_type().is_file() || is_editor_scratch(entry.file_name()) {
                continue;
            }
            if let Ok(meta) = entry.metadata() {
                files.insert(entry.into_path(), (meta.modified().ok(), meta.len()));
            }
        }
    }
    files
}

/// Swap, backup and lock files editors write beside the file being edited.
fn is_editor_scratch(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
}

/// What changed between two snapshots, for the log: up to three paths and how many more.
fn differences(before: &Snapshot, after: &Snapshot, root: &Path) -> String {
    let mut changed: Vec<&PathBuf> = after
        .iter()
        .filter(|(path, seen)| before.get(*path) != Some(*seen))
        .map(|(path, _)| path)
        .collect();
    changed.extend(before.keys().filter(|path| !after.contains_key(*path)));
    changed.sort();
    let mut names: Vec<String> = changed
        .iter()
        .take(3)
        .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
        .collect();
    if changed.len() > 3 {
        names.push(format!("and {} more", changed.len() - 3));
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_see_edits_new_and_removed_files_but_not_editor_scratch() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("content/about")).unwrap();
        std::fs::write(root.join("content/about/index.md"), "# About").unwrap();
        let paths = vec![root.join("content"), root.join("config.yaml")];
        let first = snapshot(&paths);
        assert_eq!(first.len(), 1, "a missing config is simply not there");
        std::fs::write(root.join("content/about/.index.md.swp"), "x").unwrap();
        std::fs::write(root.join("content/about/index.md~"), "x").unwrap();
        assert_eq!(
            snapshot(&paths),
            first,
            "editor scratch files are not edits"
        );
        std::fs::write(root.join("content/about/index.md"), "# About us").unwrap();
        std::fs::write(root.join("config.yaml"), "site: {}").unwrap();
        let second = snapshot(&paths);
        assert_ne!(second, first);
        assert_eq!(
            differences(&first, &second, root),
            "config.yaml, content/about/index.md"
        );
        std::fs::remove_file(root.join("content/about/index.md")).unwrap();
        assert_eq!(
            differences(&second, &snapshot(&paths), root),
            "content/about/index.md"
        );
    }

    #[test]
    fn drafts_are_built_beside_the_published_folder() {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.yaml");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config.yaml"),
            &config_path,
        )
        .unwrap();
        let config = Config::load(&config_path).unwrap();
        let published = config.resolve(&config.site.output);
        assert_eq!(default_output(&config, false), published);
        let drafts = default_output(&config, true);
        assert_eq!(drafts.parent(), published.parent());
        assert_ne!(drafts, published);
        assert!(drafts.to_string_lossy().ends_with("-drafts"), "{drafts:?}");
    }
}
