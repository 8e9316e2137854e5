//! `cwfy init DIR`: a starting folder for a new city, a commented config, an About and a
//! Methodology page to edit, and the templates and static files, so that the folder builds on its
//! own.

use std::path::{Path, PathBuf};

/// The files `cwfy init` writes, relative to the new folder, with their contents.
const FILES: &[(&str, &str)] = &[
    ("config.yaml", include_str!("init/config.yaml")),
    ("content/about/index.md", include_str!("init/about.md")),
    (
        "content/about/methodology.md",
        include_str!("init/methodology.md"),
    ),
    ("templates/404.html", include_str!("../templates/404.html")),
    (
        "templates/_macros.html",
        include_str!("../templates/_macros.html"),
    ),
    (
        "templates/base.html",
        include_str!("../templates/base.html"),
    ),
    (
        "templates/data.html",
        include_str!("../templates/data.html"),
    ),
    ("templates/day.html", include_str!("../templates/day.html")),
    (
        "templates/empty.html",
        include_str!("../templates/empty.html"),
    ),
    ("templates/feed.xml", include_str!("../templates/feed.xml")),
    (
        "templates/page.html",
        include_str!("../templates/page.html"),
    ),
    (
        "templates/photos.html",
        include_str!("../templates/photos.html"),
    ),
    (
        "templates/service_index.html",
        include_str!("../templates/service_index.html"),
    ),
    (
        "templates/service_week.html",
        include_str!("../templates/service_week.html"),
    ),
    (
        "templates/service_year.html",
        include_str!("../templates/service_year.html"),
    ),
    (
        "templates/status.html",
        include_str!("../templates/status.html"),
    ),
    (
        "templates/ward_index.html",
        include_str!("../templates/ward_index.html"),
    ),
    (
        "templates/ward_service.html",
        include_str!("../templates/ward_service.html"),
    ),
    (
        "templates/ward_week.html",
        include_str!("../templates/ward_week.html"),
    ),
    ("static/favicon.svg", include_str!("../static/favicon.svg")),
    ("static/style.css", include_str!("../static/style.css")),
];

/// `cwfy init` could not write the folder.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The folder already has a file `init` would write; nothing was written.
    #[error(
        "{0} already exists; cwfy init never overwrites a file: choose a new folder, or move it away"
    )]
    Exists(PathBuf),
    /// Writing failed.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Writes a starting folder for a new city into `dir` (created if needed) and returns the files
/// written. Fails, writing nothing, when any of them exists.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, InitError> {
    if let Some((rel, _)) = FILES.iter().find(|(rel, _)| dir.join(rel).exists()) {
        return Err(InitError::Exists(dir.join(rel)));
    }
    let mut written = Vec::new();
    for (rel, text) in FILES {
        let path = dir.join(rel);
        let write_err = |source| InitError::Write {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write_err)?;
        }
        std::fs::write(&path, text).map_err(write_err)?;
        written.push(path);
    }
    for folder in ["data/boundaries", "data/sample"] {
        let path = dir.join(folder);
        std::fs::create_dir_all(&path).map_err(|source| InitError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starting_config_parses_and_init_never_overwrites() {
        crate::config::Config::parse(include_str!("init/config.yaml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let written = init(dir.path()).unwrap();
        assert_eq!(written.len(), FILES.len());
        assert!(dir.path().join("data/boundaries").is_dir());
        let config = dir.path().join("config.yaml");
        std::fs::write(&config, "edited").unwrap();
        let err = init(dir.path()).unwrap_err().to_string();
        assert!(err.contains("config.yaml already exists"), "{err}");
        assert_eq!(std::fs::read_to_string(&config).unwrap(), "edited");
    }

    #[test]
    fn every_template_and_static_file_is_written() {
        for folder in ["templates", "static"] {
            let shipped = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(folder))
                .unwrap()
                .map(|e| format!("{folder}/{}", e.unwrap().file_name().to_string_lossy()))
                .filter(|rel| !rel.ends_with('~'));
            for rel in shipped {
                assert!(
                    FILES.iter().any(|(f, _)| *f == rel),
                    "{rel} is not in cwfy init's FILES"
                );
            }
        }
    }
}
