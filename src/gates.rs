//! Sanity gates: checks `cwfy update` makes between aggregating and publishing. When the new data
//! looks broken, the previous site stays published and the command exits 3.

use serde::Serialize;

use crate::aggregate::Metrics;
use crate::config::GatesConfig;
use crate::domain::Day;

/// One failed gate, with the figures that failed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateFailure {
    /// Short name: `day-volume`, `lost-records`, `fetch-failed`.
    pub gate: &'static str,
    /// What was seen, in a sentence with the figures.
    pub message: String,
}

/// The data failed one or more gates; the previous site was kept. Exit status 3.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the new data failed {} sanity gate(s); the previous site was kept (use --force to publish anyway):\n{}", .0.len(), .0.iter().map(|f| format!("  - {}: {}", f.gate, f.message)).collect::<Vec<_>>().join("\n"))]
pub struct GatesFailed(pub Vec<GateFailure>);

/// The figures the gates look at besides the metrics.
#[derive(Debug, Clone, Default)]
pub struct GateInputs {
    /// Requests in the store now.
    pub stored_now: u64,
    /// Requests in the store when the site was last published, if it ever was.
    pub stored_at_last_publish: Option<u64>,
    /// Fetch windows that failed after all retries: (window, error).
    pub failed_windows: Vec<String>,
    /// Where the fetch stopped (now, or `--until`), when it fetched anything: the newest complete
    /// day is the day before the one this falls in.
    pub fetched_until: Option<crate::domain::UnixSeconds>,
}

/// The usual count for `day`'s weekday: the median of the same weekday over the previous
/// `weeks` weeks that the data covers. `None` when no such week is covered.
pub fn usual_for_weekday(metrics: &Metrics, day: Day, weeks: u32) -> Option<f64> {
    let first = metrics.first_day?;
    let mut counts: Vec<u64> = (1..=weeks as i32)
        .map(|k| day.plus(-7 * k))
        .filter(|d| *d >= first)
        .map(|d| metrics.total_opened(d, d))
        .collect();
    if counts.is_empty() {
        return None;
    }
    counts.sort_unstable();
    let n = counts.len();
    Some(if n % 2 == 1 {
        counts[n / 2] as f64
    } else {
        (counts[n / 2 - 1] + counts[n / 2]) as f64 / 2.0
    })
}

/// Runs every gate; an empty list means the data may be published.
pub fn check(
    metrics: &Metrics,
    newest_complete_day: Option<Day>,
    inputs: &GateInputs,
    config: &GatesConfig,
) -> Vec<GateFailure> {
    let mut failures = Vec::new();
    if !inputs.failed_windows.is_empty() {
        failures.push(GateFailure {
            gate: "fetch-failed",
            message: format!(
                "{} fetch window(s) failed after all retries: {}; run `cwfy update` again to resume",
                inputs.failed_windows.len(),
                inputs.failed_windows.join("; ")
            ),
        });
    }
    if let Some(before) = inputs.stored_at_last_publish
        && inputs.stored_now < before
    {
        failures.push(GateFailure {
            gate: "lost-records",
            message: format!(
                "the store holds {} requests but held {before} when the site was last published ({} lost); check the store file and its backups",
                inputs.stored_now,
                before - inputs.stored_now
            ),
        });
    }
    if let Some(day) = newest_complete_day
        && let Some(usual) = usual_for_weekday(metrics, day, config.usual_weeks)
        && usual >= f64::from(config.min_usual)
    {
        let count = metrics.total_opened(day, day);
        if (count as f64) < usual * config.min_day_share {
            failures.push(GateFailure {
                gate: "day-volume",
                message: format!(
                    "{day} has {count} counted requests, under {:.0}% of the usual {usual:.0} for a {} (median of up to {} earlier weeks); the source may have sent a partial day; the next run fetches that day again",
                    config.min_day_share * 100.0,
                    day.weekday_name(),
                    config.usual_weeks
                ),
            });
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::RequestRef;

    fn metrics(per_day: &[(i64, u64)]) -> (Config, Metrics) {
        let config = Config::parse("site: {title: T, base_url: 'https://e.org/'}\ncity: {name: C, wards: 3, disclaimer: D}\n").unwrap();
        // 2021-01-04 00:00 Chicago, a Monday.
        let monday = 1_609_740_000;
        let m = Metrics::build(&config, |add| {
            for (day, n) in per_day {
                for i in 0..*n {
                    add(RequestRef {
                        service_key: None,
                        service_code: None,
                        service_name: "Pothole",
                        requested_at: monday + day * 86_400 + i as i64,
                        closed_at: None,
                        ward: Some(1),
                        placement: crate::domain::Placement::Record,
                        duplicate: false,
                    });
                }
            }
        });
        (config, m)
    }

    #[test]
    fn a_thin_day_fails_the_volume_gate() {
        let days: Vec<(i64, u64)> = (0..5).map(|w| (w * 7, 100)).chain([(35, 30)]).collect();
        let (config, m) = metrics(&days);
        let day = m.last_day.unwrap();
        assert_eq!(usual_for_weekday(&m, day, 8), Some(100.0));
        let f = check(&m, Some(day), &GateInputs::default(), &config.gates);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].gate, "day-volume");
        assert!(
            f[0].message.contains("30 counted requests") && f[0].message.contains("usual 100"),
            "{}",
            f[0].message
        );
        // A normal day passes; so does a thin day with too little history to judge.
        let days: Vec<(i64, u64)> = (0..6).map(|w| (w * 7, 100)).collect();
        let (config, m) = metrics(&days);
        assert!(check(&m, m.last_day, &GateInputs::default(), &config.gates).is_empty());
        let (config, m) = metrics(&[(0, 10), (7, 1)]);
        assert!(check(&m, m.last_day, &GateInputs::default(), &config.gates).is_empty());
    }

    #[test]
    fn lost_records_and_failed_windows_fail() {
        let (config, m) = metrics(&[(0, 1)]);
        let inputs = GateInputs {
            stored_now: 90,
            stored_at_last_publish: Some(100),
            failed_windows: vec!["2021-01-04".into()],
            fetched_until: None,
        };
        let f = check(&m, m.last_day, &inputs, &config.gates);
        let gates: Vec<_> = f.iter().map(|x| x.gate).collect();
        assert_eq!(gates, vec!["fetch-failed", "lost-records"]);
        assert!(f[1].message.contains("10 lost"));
        let err = GatesFailed(f).to_string();
        assert!(
            err.contains("--force") && err.contains("lost-records"),
            "{err}"
        );
    }
}
