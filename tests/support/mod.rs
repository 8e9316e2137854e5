//! Shared helpers for the integration tests: a throw-away project folder with the repository's
//! templates, static files and content, a small config, and a way to run the real binary in it.
#![allow(dead_code)]

pub mod http;
pub mod open311;
pub mod portal;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A real file of the bundled sample (`data/sample/...`).
pub fn sample(name: &str) -> PathBuf {
    repo().join("data/sample").join(name)
}

/// Copies a folder recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// A project folder in a temporary directory.
pub struct Project {
    /// Keeps the folder alive.
    pub dir: tempfile::TempDir,
}

/// Every file below `dir` (a built site) with its bytes, by `/`-separated relative path.
pub fn site_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap();
            let rel: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
            (rel.join("/"), std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// The repository's config with a short history (so a test build is quick) and no sample.
pub fn small_config(days: u32, weeks: u32) -> String {
    let text = std::fs::read_to_string(repo().join("config.yaml")).unwrap();
    assert!(
        !text.contains("\nhistory:"),
        "config.yaml limits the history: tests set their own"
    );
    let text = format!("{text}\nhistory:\n  days: {days}\n  weeks: {weeks}\n");
    // Drop the sample list: tests import what they need.
    let start = text.find("\nsample:\n").expect("config has a sample list");
    let end = text[start + 1..]
        .find("\n\n")
        .map(|i| start + 1 + i)
        .unwrap_or(text.len());
    format!("{}\nsample: []{}", &text[..start], &text[end..])
}

impl Project {
    /// A project with the repository's templates, static files, content and data folders, and a
    /// config with `days` day pages and `weeks` week pages.
    pub fn new(days: u32, weeks: u32) -> Project {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["templates", "static", "content"] {
            copy_dir(&repo().join(sub), &dir.path().join(sub));
        }
        for sub in ["boundaries", "wards"] {
            copy_dir(
                &repo().join("data").join(sub),
                &dir.path().join("data").join(sub),
            );
        }
        std::fs::write(dir.path().join("config.yaml"), small_config(days, weeks)).unwrap();
        Project { dir }
    }

    /// A project with one real day of Chicago data (the portal's 2,953 requests of January 1,
    /// 2021), built into `site/` as of that day, with `days` day pages and `weeks` week pages.
    pub fn real_day(days: u32, weeks: u32) -> Project {
        let p = Project::new(days, weeks);
        p.ok(&[
            "import",
            sample("sr-v6vf-nfxy-2021-01-01.csv").to_str().unwrap(),
        ]);
        p.ok(&["build", "--as-of", "2021-01-01"]);
        p
    }

    /// The project folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the project.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file inside the project (creating folders).
    pub fn write(&self, rel: &str, text: impl AsRef<[u8]>) {
        let path = self.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Reads a file of the project as text.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// Edits `config.yaml` with a string replacement (the old text must be there).
    pub fn edit_config(&self, from: &str, to: &str) {
        let text = self.read("config.yaml");
        assert!(text.contains(from), "config.yaml has no {from:?}");
        self.write("config.yaml", text.replacen(from, to, 1));
    }

    /// The ids of every request in the project's store.
    pub fn stored_ids(&self) -> std::collections::BTreeSet<String> {
        let conn = rusqlite::Connection::open(self.join("data/store.sqlite")).unwrap();
        let mut stmt = conn.prepare("SELECT id FROM requests").unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// A command running the real `cwfy` binary in the project folder.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cwfy"));
        cmd.args(args)
            .current_dir(self.path())
            .env_remove("RUST_LOG");
        cmd
    }

    /// Runs `cwfy ARGS` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs `cwfy ARGS` and panics with its stderr unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "cwfy {args:?} failed ({:?}):\n{stderr}",
            out.status.code()
        );
        stderr
    }
}

/// Exit code and stderr of a finished run.
pub fn code_and_stderr(out: &Output) -> (i32, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The markup of an HTML document with everything that cannot start a tag removed: the text of
/// `<title>` and `<textarea>` (RCDATA: the embed snippets are markup shown as text) and quoted
/// attribute values. What remains shows every element the browser
/// would create, so a `<script` in it is a live script.
pub fn live_markup(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        // Inside a tag: copy up to '>' while skipping quoted values.
        let mut end = rest.len();
        let mut quote: Option<char> = None;
        for (i, c) in rest.char_indices().skip(1) {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '>') => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        let tag = &rest[..end];
        let mut kept = String::new();
        let mut q: Option<char> = None;
        for c in tag.chars() {
            match (q, c) {
                (Some(x), c) if c == x => {
                    q = None;
                    kept.push(c);
                }
                (Some(_), _) => {}
                (None, '"' | '\'') => {
                    q = Some(c);
                    kept.push(c);
                }
                _ => kept.push(c),
            }
        }
        out.push_str(&kept);
        rest = &rest[end..];
        let lower = tag.to_ascii_lowercase();
        for rcdata in ["title", "textarea"] {
            if lower.starts_with(&format!("<{rcdata}")) {
                let close = rest
                    .to_ascii_lowercase()
                    .find(&format!("</{rcdata}"))
                    .unwrap_or(rest.len());
                rest = &rest[close..];
            }
        }
    }
    out.push_str(rest);
    out
}
