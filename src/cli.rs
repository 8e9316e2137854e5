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
use crate::gates::{GateInputs, GatesFailed};
use crate::publish::Output;
use crate::render::{self, RenderError, RenderInput};
use crate::source::Normalizer;
use crate::source::fetch::{self, EndpointKind, FetchError, FetchOptions, FetchReport, When};
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
    /// Pull new and updated requests from the configured source (or --url) into the store.
    Fetch(FetchArgs),
    /// Fetch, build and publish in one go: the nightly job. Exits 3 when the new data fails a
    /// sanity gate (the previous site is kept).
    Update(UpdateArgs),
    /// Check a built site: links, fragments, page budgets, charts, XML and JSON files.
    Check {
        /// The site folder (default: the config's `site.output`).
        dir: Option<PathBuf>,
    },
    /// Ask the configured source whether it works: `cwfy source check`.
    Source {
        /// What to do with the source.
        #[command(subcommand)]
        action: SourceAction,
    },
    /// Serve a built site on 127.0.0.1 to preview it.
    Serve {
        /// The site folder (default: the config's `site.output`).
        dir: Option<PathBuf>,
        /// The port (0 picks a free one).
        #[arg(long, default_value_t = 8000)]
        port: u16,
    },
}

/// `cwfy source` subcommands.
#[derive(Debug, Subcommand)]
pub enum SourceAction {
    /// Ask the source for one small page of its newest records and say whether it answers,
    /// whether the key or token is accepted, whether the fields the store needs are there, and
    /// how fresh the newest record is. Exits 1 when something needs changing.
    Check(EndpointArgs),
}

/// Which endpoint to use, when not the config's default.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct EndpointArgs {
    /// Use this endpoint instead of the config's: an Open311 GeoReport v2 base URL (any city),
    /// or, with --kind socrata, a SODA 2.1 resource URL (…/resource/ID.json) or a SODA 3 query
    /// URL (…/api/v3/views/ID/query.json).
    #[arg(long)]
    pub url: Option<String>,
    /// The kind of endpoint (default: the config's source.kind).
    #[arg(long, value_enum)]
    pub kind: Option<EndpointKind>,
    /// The Open311 endpoint to use: `live` (source.open311.base_url, the default) or a name
    /// under source.open311.profiles, such as `test`.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// `cwfy fetch` options.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct FetchArgs {
    /// Fetch the requests updated since DATE (YYYY-MM-DD, city time) or TIME (with an offset)
    /// instead of since the stored watermark.
    #[arg(long, value_name = "DATE|TIME", conflicts_with = "backfill_from")]
    pub since: Option<String>,
    /// Stop at the end of DATE, or at TIME (default: now).
    #[arg(long, value_name = "DATE|TIME")]
    pub until: Option<String>,
    /// Backfill: fetch the requests opened from DATE on, one city-local day at a time.
    #[arg(long, value_name = "DATE")]
    pub backfill_from: Option<String>,
    /// Refresh one request by its id (Open311 `requests/ID.json`; Socrata its `sr_number`)
    /// instead of fetching by date; may be given more than once.
    #[arg(long = "request", value_name = "ID", conflicts_with_all = ["since", "backfill_from", "until"])]
    pub requests: Vec<String>,
    /// The endpoint.
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

/// The `meta` key holding the store's request count when the site was last published.
const PUBLISHED_REQUESTS: &str = "published_requests";

/// `cwfy update` options.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct UpdateArgs {
    /// What to fetch.
    #[command(flatten)]
    pub fetch: FetchArgs,
    /// How to build.
    #[command(flatten)]
    pub build: BuildArgs,
    /// Publish even when the data fails a sanity gate.
    #[arg(long)]
    pub force: bool,
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
        if cause.is::<GatesFailed>() {
            return EXIT_GATE;
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
            let _lock = RunLock::acquire(&config)?;
            build(&config, args, cli.quiet, None)?;
            Ok(EXIT_OK)
        }
        Command::Import { files, format } => {
            let config = load_config(&cli.config, None)?;
            let _lock = RunLock::acquire(&config)?;
            let mut store = open_store(&config)?;
            import_files(&config, &mut store, files, *format, cli.quiet)?;
            Ok(EXIT_OK)
        }
        Command::Update(args) => {
            let config = load_config(&cli.config, args.build.base_url.as_deref())?;
            let _lock = RunLock::acquire(&config)?;
            update(&config, args, cli.quiet)?;
            Ok(EXIT_OK)
        }
        Command::Fetch(args) => {
            let config = load_config(&cli.config, None)?;
            let _lock = RunLock::acquire(&config)?;
            let mut store = open_store(&config)?;
            let report = fetch_into(&config, &mut store, args, cli.quiet)?;
            match report.failure_message() {
                Some(message) => Err(anyhow::anyhow!(message)),
                None => Ok(EXIT_OK),
            }
        }
        Command::Check { dir } => {
            let (dir, config) = site_dir(cli, dir.as_deref())?;
            let options = crate::check::CheckOptions {
                base_url: config.map(|c| c.site.base_url.to_string()),
                ..Default::default()
            };
            let started = Instant::now();
            let report = crate::check::check_site(&dir, &options)?;
            print!("{}", report.render());
            println!(
                "{} in {:.1}s",
                dir.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(if report.ok() { EXIT_OK } else { EXIT_ERROR })
        }
        Command::Source {
            action: SourceAction::Check(args),
        } => {
            let config = load_config(&cli.config, None)?;
            let report = crate::source::probe::probe(
                &config,
                args.kind,
                args.url.as_deref(),
                args.profile.as_deref(),
                jiff::Timestamp::now(),
            )
            .map_err(|e| match e {
                FetchError::Range(_) | FetchError::BadUrl { .. } => {
                    anyhow::Error::new(UsageError(e.to_string()))
                }
                e => e.into(),
            })?;
            print!("{report}");
            Ok(if report.ok() { EXIT_OK } else { EXIT_ERROR })
        }
        Command::Serve { dir, port } => {
            let (dir, _) = site_dir(cli, dir.as_deref())?;
            crate::serve::serve(&dir, *port)?;
            Ok(EXIT_OK)
        }
    }
}

/// The site folder a command works on: the one named, or the config's output folder. The config
/// is read when it exists (for the base URL), and is required only when no folder is named.
fn site_dir(cli: &Cli, dir: Option<&Path>) -> Result<(PathBuf, Option<Config>)> {
    match dir {
        Some(d) => {
            let config = if cli.config.exists() {
                Some(load_config(&cli.config, None)?)
            } else {
                None
            };
            Ok((d.to_path_buf(), config))
        }
        None => {
            let config = load_config(&cli.config, None)?;
            Ok((config.resolve(&config.site.output), Some(config)))
        }
    }
}

/// `cwfy fetch`: fetches into the store and logs a summary. Windows that failed are in the
/// report (see [`FetchReport::failure_message`]); the caller decides what they mean.
pub fn fetch_into(
    config: &Config,
    store: &mut Store,
    args: &FetchArgs,
    quiet: bool,
) -> Result<FetchReport> {
    let when = |flag: &str, text: &Option<String>| -> Result<Option<When>> {
        text.as_deref()
            .map(|t| When::parse(t).map_err(|m| UsageError(format!("{flag}: {m}")).into()))
            .transpose()
    };
    let backfill_from = args
        .backfill_from
        .as_deref()
        .map(|t| {
            t.trim().parse::<jiff::civil::Date>().map_err(|_| {
                UsageError(format!("--backfill-from {t:?}: write a date as YYYY-MM-DD"))
            })
        })
        .transpose()?;
    let options = FetchOptions {
        since: when("--since", &args.since)?,
        until: when("--until", &args.until)?,
        backfill_from,
        url: args.endpoint.url.clone(),
        kind: args.endpoint.kind,
        profile: args.endpoint.profile.clone(),
        requests: args.requests.clone(),
        now: None,
    };
    let bar = if quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} days ({elapsed}, about {eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    };
    let started = Instant::now();
    let report = match fetch::fetch(store, config, &options, &bar) {
        Ok(report) => report,
        Err(e @ (FetchError::Range(_) | FetchError::BadUrl { .. })) => {
            return Err(UsageError(e.to_string()).into());
        }
        Err(e) => return Err(e.into()),
    };
    let c = report.counts;
    let what = match report.plan {
        Some(plan) => format!(
            "{} {}",
            plan.mode.as_str(),
            fetch::window_label(plan.span, config.tz())
        ),
        None if !args.requests.is_empty() => format!("request {}", args.requests.join(", ")),
        None => "nothing new yet".to_string(),
    };
    tracing::info!(
        "fetched {} ({}, {what}): {} new, {} updated, {} unchanged, {} ignored without id, {} rejected; windows: {} done, {} skipped (done before), {} failed, {} kept but to fetch again; {} pages in {:.1}s",
        report.endpoint,
        report.kind.as_str(),
        c.new,
        c.updated,
        c.unchanged,
        c.ignored,
        c.rejected,
        report.done,
        report.skipped,
        report.failures.len(),
        report.unmarked,
        report.pages,
        started.elapsed().as_secs_f64()
    );
    if let Some(n) = report.services {
        tracing::info!(
            "services.json: {n} service types in the catalogue; {} service definitions of featured services",
            report.definitions.unwrap_or(0)
        );
    }
    for sample in &report.samples {
        tracing::warn!("rejected {sample}");
    }
    Ok(report)
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
///
/// With `gates`, the sanity gates run after aggregation, and a failure stops the build before
/// anything is written (the previous site stays published).
pub fn build(
    config: &Config,
    args: &BuildArgs,
    quiet: bool,
    gates: Option<&GateRun>,
) -> Result<BuildSummary> {
    let mut timings = Vec::new();
    let t = Instant::now();
    let content = content::load(&config.resolve(&config.site.content))?;
    let offices = match &config.ward_offices {
        Some(p) => content::wards::load_offices(&config.resolve(p), config.ward_count())?,
        None => Default::default(),
    };
    timings.push(("content", t.elapsed().as_secs_f64()));

    let store_path = config.resolve(&config.store.path);
    let mut store = open_store(config)?;
    let fresh = !store.has_requests()?;
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
    let mut scanned = None;
    // One piece of the store per core: reading rows out of SQLite is most of the time.
    let pieces = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Room for every request of a piece up front: growing 10 M-entry vectors copies them and
    // touches their pages twice (room never written to is never touched). The key span only
    // bounds the count (keys edited by hand may leave gaps), so beyond 16 M the arrays grow.
    let most = store.request_key_span()?.map_or(0, |(lo, hi)| {
        usize::try_from(hi.saturating_sub(lo).saturating_add(1))
            .unwrap_or(0)
            .min(1 << 24)
    });
    let metrics = Metrics::build_in_parts(config, pieces, |builders| {
        for b in builders.iter_mut() {
            b.reserve(most / pieces + 1);
        }
        let mut sinks: Vec<_> = builders
            .iter_mut()
            .map(|b| move |r: crate::store::RequestRef<'_>| b.add(r))
            .collect();
        scanned = Some(store.scan_requests_in_parts(&mut sinks));
    });
    let scanned = match scanned {
        Some(Ok(totals)) => totals,
        Some(Err(e)) => {
            return Err(anyhow::Error::new(e).context("cannot read the requests from the store"));
        }
        None => crate::store::ScanTotals::default(),
    };
    let status = store.status_after_scan(scanned)?;
    timings.push(("aggregate", t.elapsed().as_secs_f64()));
    tracing::info!(
        "aggregated {} stored requests in {:.3} s",
        status.requests,
        t.elapsed().as_secs_f64()
    );

    let as_of =
        match &args.as_of {
            Some(text) => Some(Day::parse(text).ok_or_else(|| {
                UsageError(format!("--as-of {text:?}: write a date as YYYY-MM-DD"))
            })?),
            None => latest_complete_day(config, &metrics),
        };
    if let Some(run) = gates {
        let mut inputs = run.inputs.clone();
        inputs.stored_now = status.requests;
        inputs.stored_at_last_publish =
            store.meta(PUBLISHED_REQUESTS)?.and_then(|v| v.parse().ok());
        // The newest complete day the fetch covered (yesterday, unless --until stopped it
        // earlier), not the newest day with data: a source that silently stops sending requests
        // leaves that day empty, and that must fail the gate.
        let judged = match (&args.as_of, inputs.fetched_until) {
            (Some(_), _) => as_of,
            (None, Some(until)) => Some(Day::of_instant(until, config.tz()).plus(-1)),
            (None, None) => Some(today(config).plus(-1)),
        };
        let failures = crate::gates::check(&metrics, judged, &inputs, &config.gates);
        if !failures.is_empty() {
            if !run.force {
                if let Some(day) = judged
                    && failures.iter().any(|f| f.gate == "day-volume")
                {
                    // The thin day's fetch windows were marked done; forget them so the next run
                    // fetches that day again (the source may have caught up by then).
                    let from = day
                        .date()
                        .to_zoned(config.tz().clone())
                        .map(|z| z.timestamp().as_second())
                        .unwrap_or(i64::MAX);
                    store.reopen_windows_from(from)?;
                }
                return Err(GatesFailed(failures).into());
            }
            for f in &failures {
                tracing::warn!(
                    "publishing despite the {} gate (--force): {}",
                    f.gate,
                    f.message
                );
            }
        }
    }
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

    let definitions = store.service_definitions()?;

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
        definitions: &definitions,
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
    store.set_meta(PUBLISHED_REQUESTS, &status.requests.to_string())?;
    timings.push(("publish", t.elapsed().as_secs_f64()));
    tracing::info!(
        "built {}: {} pages and {} other files; {} written, {} unchanged, {} removed ({:.1} MB); \
         {} units made, {} kept from the previous build",
        output.display(),
        rendered.pages,
        rendered.files,
        published.written,
        published.unchanged,
        published.removed,
        published.bytes as f64 / 1e6,
        published.units_made,
        published.units_kept
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

/// The sanity gates a build applies before publishing.
#[derive(Debug, Clone, Default)]
pub struct GateRun {
    /// Figures from the fetch.
    pub inputs: GateInputs,
    /// Publish anyway, logging what failed.
    pub force: bool,
}

/// `cwfy update`: fetch, then build and publish unless the data fails a gate.
pub fn update(config: &Config, args: &UpdateArgs, quiet: bool) -> Result<()> {
    let started = Instant::now();
    let mut store = open_store(config)?;
    let report = fetch_into(config, &mut store, &args.fetch, quiet)?;
    let fetch_seconds = started.elapsed().as_secs_f64();
    drop(store);
    let failed_windows = report
        .failures
        .iter()
        .map(|f| format!("{} ({})", f.label, f.error))
        .collect();
    let gates = GateRun {
        inputs: GateInputs {
            failed_windows,
            fetched_until: report.plan.as_ref().map(|plan| plan.span.end),
            ..GateInputs::default()
        },
        force: args.force,
    };
    let summary = build(config, &args.build, quiet, Some(&gates))?;
    let c = report.counts;
    let mut times = vec![format!("fetch {fetch_seconds:.1}s")];
    times.extend(
        summary
            .timings
            .iter()
            .map(|(stage, s)| format!("{stage} {s:.1}s")),
    );
    let paragraph = format!(
        "cwfy update: fetched {} pages from {} ({} new, {} updated, {} unchanged, {} ignored without id, {} rejected); \
         built {} pages and {} other files ({} written, {} unchanged, {} removed); took {:.1}s ({}).",
        report.pages,
        report.endpoint,
        c.new,
        c.updated,
        c.unchanged,
        c.ignored,
        c.rejected,
        summary.render.pages,
        summary.render.files,
        summary.publish.written,
        summary.publish.unchanged,
        summary.publish.removed,
        started.elapsed().as_secs_f64(),
        times.join(", ")
    );
    if quiet {
        tracing::info!("{paragraph}");
    } else {
        println!("{paragraph}");
    }
    Ok(())
}

/// The last complete day: the newest day with requests, but never today (still in progress).
pub fn latest_complete_day(config: &Config, metrics: &Metrics) -> Option<Day> {
    let last = metrics.last_day?;
    let today = today(config);
    Some(if last >= today { today.plus(-1) } else { last })
}

/// Today in the city.
fn today(config: &Config) -> Day {
    Day::from_date(
        jiff::Zoned::now()
            .with_time_zone(config.tz().clone())
            .date(),
    )
}

/// One writer at a time: an exclusive lock on `cwfy.lock` beside the store, held for the whole
/// command. The operating system releases it when the process ends, however it ends, so a killed
/// run never leaves a stale lock.
pub struct RunLock {
    _file: std::fs::File,
}

/// Another cwfy process is writing.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path} is held by another cwfy run ({holder}); wait for it to finish, or stop that process"
)]
pub struct LockHeld {
    /// The lock file.
    pub path: PathBuf,
    /// What the holder wrote into it.
    pub holder: String,
}

impl RunLock {
    /// Takes the lock or fails at once, naming the process that holds it.
    pub fn acquire(config: &Config) -> Result<RunLock> {
        use std::io::{Read, Seek, Write};
        let store = config.resolve(&config.store.path);
        let dir = store
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("cwfy.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open the lock file {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() {
                    "process unknown".to_string()
                } else {
                    holder.to_string()
                };
                return Err(LockHeld { path, holder }.into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(anyhow::anyhow!("cannot lock {}: {e}", path.display()));
            }
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let args: Vec<String> = std::env::args().skip(1).collect();
        let _ = write!(
            file,
            "pid {}, `cwfy {}`, since {}",
            std::process::id(),
            args.join(" "),
            jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S %Z")
        );
        let _ = file.flush();
        Ok(RunLock { _file: file })
    }
}
