//! The command line: parses arguments, runs the pipeline stages for each command, and turns
//! errors into one clear message and an exit status (SPEC §3).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::aggregate::Metrics;
use crate::config::{BaseUrl, Config, ConfigError};
use crate::content::{self, ContentError};
use crate::domain::Day;
use crate::publish::Output;
use crate::render::{self, RenderError, RenderInput};
use crate::source::Normalizer;
use crate::source::import::{self, Format};
use crate::store::Store;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: an error.
pub const EXIT_ERROR: u8 = 1;
/// Exit status: bad usage, config or content.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the data failed a sanity gate and the previous site was kept.
pub const EXIT_GATE: u8 = 3;

/// cwfy — Chicago Works For You: turns a city's 311 service requests into a static dashboard.
#[derive(Debug, Parser)]
#[command(name = "cwfy", version, about, long_about = None)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, global = true, default_value = "config.yaml")]
    pub config: PathBuf,
    /// Only warnings and errors (for cron).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Aggregate the store and write the site (imports the bundled sample when there is no store).
    Build(BuildArgs),
    /// Load Open311 JSON, Socrata JSON or portal CSV files into the store.
    Import {
        /// Files to import.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The format, when it cannot be told from the content.
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

/// `cwfy build` options.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct BuildArgs {
    /// Output folder (default: the config's `site.output`).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Publish under another base URL than the config's.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Build as if DATE (YYYY-MM-DD) were the last complete day.
    #[arg(long)]
    pub as_of: Option<String>,
}

/// A usage error found after argument parsing (bad `--as-of`, …). Exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    init_logging(cli.quiet);
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(exit_code_of(&e))
        }
    }
}

/// The exit status an error maps to.
pub fn exit_code_of(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.is::<ConfigError>() || cause.is::<ContentError>() || cause.is::<UsageError>() {
            return EXIT_USAGE;
        }
        if let Some(RenderError::Template(_) | RenderError::MissingLayout { .. }) =
            cause.downcast_ref::<RenderError>()
        {
            return EXIT_USAGE;
        }
    }
    EXIT_ERROR
}

fn init_logging(quiet: bool) {
    let level = if quiet {
        tracing::Level::WARN
    } else {
        tracing::Level::INFO
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Runs a parsed command; returns the exit status.
pub fn run(cli: &Cli) -> Result<u8> {
    match &cli.command {
        Command::Build(args) => {
            let config = load_config(&cli.config, args.base_url.as_deref())?;
            build(&config, args, cli.quiet)?;
            Ok(EXIT_OK)
        }
        Command::Import { files, format } => {
            let config = load_config(&cli.config, None)?;
            let mut store = open_store(&config)?;
            import_files(&config, &mut store, files, *format, cli.quiet)?;
            Ok(EXIT_OK)
        }
    }
}

/// Loads the config, applying a `--base-url` override.
pub fn load_config(path: &Path, base_url: Option<&str>) -> Result<Config> {
    let mut config = Config::load(path)?;
    if let Some(url) = base_url {
        config.site.base_url =
            BaseUrl::parse(url).map_err(|m| UsageError(format!("--base-url: {m}")))?;
    }
    Ok(config)
}

/// Opens the configured store.
pub fn open_store(config: &Config) -> Result<Store> {
    let path = config.resolve(&config.store.path);
    Ok(Store::open(&path)?)
}

/// The normaliser for the configured city.
pub fn normalizer(config: &Config) -> Normalizer {
    Normalizer::new(config.tz().clone(), config.ward_count())
}

/// Imports files, logging a line per file.
pub fn import_files(
    config: &Config,
    store: &mut Store,
    files: &[PathBuf],
    format: Option<Format>,
    quiet: bool,
) -> Result<crate::store::Counts> {
    let n = normalizer(config);
    let mut total = crate::store::Counts::default();
    for file in files {
        let started = Instant::now();
        let bar = progress_bar(quiet, file);
        let report =
            import::import_file(store, file, format, &n, &mut |seen| bar.set_position(seen))?;
        bar.finish_and_clear();
        let c = report.counts;
        tracing::info!(
            "imported {} ({}): {} new, {} updated, {} unchanged, {} ignored without id, {} rejected, {} cleaned in {:.1}s",
            file.display(),
            report.format,
            c.new,
            c.updated,
            c.unchanged,
            c.ignored,
            c.rejected,
            c.cleaned,
            started.elapsed().as_secs_f64()
        );
        for sample in &report.samples {
            tracing::warn!("rejected {sample}");
        }
        if let Some(broken) = &report.broken_at {
            tracing::warn!("{broken}; the records before it were kept");
        }
        total.add(c);
    }
    Ok(total)
}

fn progress_bar(quiet: bool, file: &Path) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg}: {pos} records ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_message(file.display().to_string());
    bar
}

/// What a build did, for the summary line.
#[derive(Debug, Clone, Default)]
pub struct BuildSummary {
    /// Pages and files rendered.
    pub render: render::RenderReport,
    /// What publishing did.
    pub publish: crate::publish::PublishReport,
    /// Seconds per stage.
    pub timings: Vec<(&'static str, f64)>,
}

/// `cwfy build`: aggregate, render and publish.
pub fn build(config: &Config, args: &BuildArgs, quiet: bool) -> Result<BuildSummary> {
    let mut timings = Vec::new();
    let t = Instant::now();
    let content = content::load(&config.resolve(&config.site.content))?;
    let offices = match &config.ward_offices {
        Some(p) => content::wards::load_offices(&config.resolve(p), config.ward_count())?,
        None => Default::default(),
    };
    timings.push(("content", t.elapsed().as_secs_f64()));

    let store_path = config.resolve(&config.store.path);
    let fresh = !Store::exists_with_data(&store_path);
    let mut store = open_store(config)?;
    if fresh {
        let files: Vec<PathBuf> = config.sample.iter().map(|p| config.resolve(p)).collect();
        tracing::info!(
            "no data in {} yet: importing the bundled real sample ({} files) first",
            store_path.display(),
            files.len()
        );
        let t = Instant::now();
        import_files(config, &mut store, &files, None, quiet)?;
        timings.push(("import", t.elapsed().as_secs_f64()));
    }

    let t = Instant::now();
    let metrics = Metrics::build(config, |add| {
        if let Err(e) = store.scan_requests(add) {
            tracing::error!("{e}");
        }
    });
    let status = store.status()?;
    timings.push(("aggregate", t.elapsed().as_secs_f64()));

    let as_of =
        match &args.as_of {
            Some(text) => Some(Day::parse(text).ok_or_else(|| {
                UsageError(format!("--as-of {text:?}: write a date as YYYY-MM-DD"))
            })?),
            None => latest_complete_day(config, &metrics),
        };
    let photos = match as_of {
        Some(day) => {
            let since = day.plus(-13);
            let since_ts = since
                .date()
                .to_zoned(config.tz().clone())
                .map(|z| z.timestamp().as_second())
                .unwrap_or(0);
            store
                .photos_since(since_ts, 500)?
                .into_iter()
                .filter(|p| Day::of_instant(p.requested_at, config.tz()) <= day)
                .collect()
        }
        None => Vec::new(),
    };

    let output = match &args.output {
        Some(o) => o.clone(),
        None => config.resolve(&config.site.output),
    };
    let t = Instant::now();
    let out = Output::begin(&output)?;
    let input = RenderInput {
        config,
        content: &content,
        metrics: &metrics,
        offices: &offices,
        photos: &photos,
        status: &status,
        as_of,
    };
    let rendered = (|| -> Result<render::RenderReport> {
        let static_dir = config.resolve(&config.site.static_dir);
        out.copy_dir(&static_dir, "")?;
        Ok(render::render_site(&input, &out)?)
    })();
    let rendered = match rendered {
        Ok(r) => r,
        Err(e) => {
            out.abandon();
            return Err(e.context(format!(
                "the build failed; {} was left as it was",
                output.display()
            )));
        }
    };
    timings.push(("render", t.elapsed().as_secs_f64()));
    let t = Instant::now();
    let published = out.finish()?;
    timings.push(("publish", t.elapsed().as_secs_f64()));
    tracing::info!(
        "built {}: {} pages and {} other files; {} written, {} unchanged, {} removed ({:.1} MB)",
        output.display(),
        rendered.pages,
        rendered.files,
        published.written,
        published.unchanged,
        published.removed,
        published.bytes as f64 / 1e6
    );
    // One parseable line for the benchmark (benches/bench.py) and for anyone timing a build.
    tracing::info!(
        "stage times (s): {}",
        timings
            .iter()
            .map(|(stage, seconds)| format!("{stage} {seconds:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(BuildSummary {
        render: rendered,
        publish: published,
        timings,
    })
}

/// The last complete day: the newest day with requests, but never today (still in progress).
pub fn latest_complete_day(config: &Config, metrics: &Metrics) -> Option<Day> {
    let last = metrics.last_day?;
    let today = Day::from_date(
        jiff::Zoned::now()
            .with_time_zone(config.tz().clone())
            .date(),
    );
    Some(if last >= today { today.plus(-1) } else { last })
}
