//! Numbers as people read them, the same on every page and chart: counts with thousands
//! separators, ordinals, durations in the unit that suits them (minutes, hours or days, never
//! "0.0 days" for something done in minutes), axis ticks that differ from each other.

/// `12,311`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "1st", "2nd", "3rd", "11th", "22nd".
pub fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A duration as a person would say it: the unit, and the value in it as it is shown.
enum Spoken {
    /// Under a minute.
    UnderAMinute,
    /// Whole minutes, under an hour.
    Minutes(f64),
    /// Hours (not rounded), under a day.
    Hours(f64),
    /// Days to one decimal.
    Days(f64),
}

/// The one rule for which unit a duration of `d` days is given in (words and bar labels).
fn spoken(d: f64) -> Spoken {
    let minutes = d * MINUTES_PER_DAY;
    let hours = d * HOURS_PER_DAY;
    if minutes < 1.0 {
        Spoken::UnderAMinute
    } else if minutes.round() < 60.0 {
        Spoken::Minutes(minutes.round())
    } else if (hours * 10.0).round() / 10.0 < HOURS_PER_DAY {
        Spoken::Hours(hours)
    } else {
        Spoken::Days((d * 10.0).round() / 10.0)
    }
}

/// A duration given in days, in words and in the unit a person would use: `less than a minute`,
/// `12 minutes`, `1 hour`, `5.5 hours`, `14 hours`, `1 day`, `12.0 days` (a day or more: days,
/// one decimal); `no data` for a figure that is not a number.
pub fn days(d: f64) -> String {
    if !d.is_finite() {
        return "no data".into();
    }
    match spoken(d) {
        Spoken::UnderAMinute => "less than a minute".into(),
        Spoken::Minutes(m) => plural(m, "minute"),
        Spoken::Hours(h) if h < 10.0 => plural((h * 10.0).round() / 10.0, "hour"),
        Spoken::Hours(h) => plural(h.round(), "hour"),
        Spoken::Days(1.0) => "1 day".into(),
        Spoken::Days(d) => format!("{d:.1} days"),
    }
}

/// `1 hour`, `2 hours`, `2.5 hours`: whole numbers without a decimal.
fn plural(n: f64, unit: &str) -> String {
    let number = if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.1}")
    };
    let s = if n == 1.0 { "" } else { "s" };
    format!("{number} {unit}{s}")
}

const MINUTES_PER_DAY: f64 = 1440.0;
const HOURS_PER_DAY: f64 = 24.0;

/// A duration given in days, short, for a label beside a bar: `<1 min`, `12 min`, `5.5 h`,
/// `3.2 d`, in the same unit as [`days`] gives it.
pub fn days_short(d: f64) -> String {
    if !d.is_finite() {
        return "n/a".into();
    }
    match spoken(d) {
        Spoken::UnderAMinute => "<1 min".into(),
        Spoken::Minutes(m) => format!("{m:.0} min"),
        Spoken::Hours(h) => format!("{h:.1} h"),
        Spoken::Days(d) => format!("{d:.1} d"),
    }
}

/// A duration in days as a figure in tables, CSV and JSON: three decimals, as the JSON API
/// rounds it (a graffiti removal closed in 4 minutes is `0.003`, not `0.00`).
pub fn days_figure(d: f64) -> f64 {
    (d * 1000.0).round() / 1000.0
}

/// [`days_figure`] as table and CSV text: `0.003`, `2.500`.
pub fn days_figure_text(d: f64) -> String {
    format!("{:.3}", days_figure(d))
}

/// The unit an axis of durations reads best in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationUnit {
    /// Everything under an hour.
    Minutes,
    /// Everything under a day.
    Hours,
    /// A day or more.
    Days,
}

impl DurationUnit {
    /// The unit for an axis whose longest duration is `max_days`.
    pub fn for_max(max_days: f64) -> DurationUnit {
        if !max_days.is_finite() || max_days >= 1.0 {
            DurationUnit::Days
        } else if max_days * HOURS_PER_DAY >= 1.0 {
            DurationUnit::Hours
        } else {
            DurationUnit::Minutes
        }
    }

    /// `d` days in this unit.
    pub fn of_days(self, d: f64) -> f64 {
        match self {
            DurationUnit::Minutes => d * MINUTES_PER_DAY,
            DurationUnit::Hours => d * HOURS_PER_DAY,
            DurationUnit::Days => d,
        }
    }

    /// `minutes`, `hours` or `days`.
    pub fn name(self) -> &'static str {
        match self {
            DurationUnit::Minutes => "minutes",
            DurationUnit::Hours => "hours",
            DurationUnit::Days => "days",
        }
    }
}

/// `part` as a share of `whole`: one decimal (`9.8 %`), two significant digits under 1 %
/// (`0.042 %`) so that a few disagreeing records never read as `0.0 %`.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "—".into();
    }
    let p = part as f64 * 100.0 / whole as f64;
    if p == 0.0 || p >= 1.0 {
        format!("{p:.1} %")
    } else {
        format!("{} %", average(p))
    }
}

/// A size as hosts state their limits (decimal units): `1.20 GB`, `687 MB`, `98 KB`, `512 B`.
pub fn bytes(n: u64) -> String {
    let b = n as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} KB", b / 1e3)
    } else {
        format!("{n} B")
    }
}

/// An average count (requests a day), as people read it: one decimal from 1 on (`25.0`), and
/// two significant digits below (`0.4`, `0.02`, `0.004`), so that a rare service's average is
/// never shown as `0.0`.
pub fn average(v: f64) -> String {
    if !v.is_finite() {
        return "no data".into();
    }
    if v == 0.0 || v >= 0.95 {
        return format!("{v:.1}");
    }
    let decimals = ((-v.log10()).floor() as usize + 2).clamp(1, 6);
    let text = format!("{v:.decimals$}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// An axis tick at `v` on an axis stepping by `step`: integers with thousands separators, and
/// fractions with just enough decimals that two ticks never read the same (`0.25`, `0.5`,
/// `0.75`; `0.002`, `0.004`).
pub fn tick(v: f64, step: f64) -> String {
    let decimals = (0..=6)
        .find(|&k| {
            let scaled = step * 10f64.powi(k);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(6) as usize;
    if decimals == 0 || (v - v.round()).abs() < 1e-9 {
        return thousands(v.round().max(0.0) as u64);
    }
    let text = format!("{v:.decimals$}");
    // 0.50 reads as 0.5.
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_keep_small_ones_visible() {
        assert_eq!(percent(98, 1000), "9.8 %");
        assert_eq!(percent(1, 2400), "0.042 %");
        assert_eq!(percent(0, 5), "0.0 %");
        assert_eq!(percent(1, 0), "—");
    }

    #[test]
    fn counts_ordinals_and_days_read_as_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(12_311), "12,311");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(
            [1, 2, 3, 4, 11, 12, 13, 21, 22, 43, 111].map(ordinal),
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "43rd", "111th"
            ]
        );
        assert_eq!(days(12.0), "12.0 days");
        assert_eq!(days(1.04), "1 day");
        assert_eq!(days(f64::NAN), "no data");
    }

    /// Issue 22: graffiti closes in minutes, and "averaging 0.0 days" said every ward was the same.
    #[test]
    fn durations_under_a_day_are_in_hours_or_minutes_never_zero_days() {
        let minute = 1.0 / 1440.0;
        assert_eq!(days(0.0), "less than a minute");
        assert_eq!(days(0.4 * minute), "less than a minute");
        assert_eq!(days(1.2 * minute), "1 minute");
        assert_eq!(days(4.3 * minute), "4 minutes");
        assert_eq!(days(59.4 * minute), "59 minutes");
        assert_eq!(days(59.6 * minute), "1 hour");
        assert_eq!(days(0.0625), "1.5 hours");
        assert_eq!(days(2.0 / 24.0), "2 hours");
        assert_eq!(days(0.44), "11 hours");
        assert_eq!(days(0.96), "23 hours");
        assert_eq!(days(0.999), "1 day");
        for d in [0.0, 0.0004, 0.003, 0.02, 0.3, 0.9] {
            assert!(!days(d).contains("0.0"), "{d}: {}", days(d));
            assert!(!days_short(d).starts_with("0.0"), "{d}: {}", days_short(d));
        }
        assert_eq!(days_short(0.0002), "<1 min");
        assert_eq!(days_short(0.003), "4 min");
        assert_eq!(days_short(0.25), "6.0 h");
        assert_eq!(days_short(3.21), "3.2 d");
        assert_eq!(DurationUnit::for_max(0.003), DurationUnit::Minutes);
        assert_eq!(DurationUnit::for_max(0.5), DurationUnit::Hours);
        assert_eq!(DurationUnit::for_max(3.0), DurationUnit::Days);
        assert_eq!(DurationUnit::Hours.of_days(0.5), 12.0);
    }

    #[test]
    fn sizes_read_as_hosts_write_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(98_400), "98 KB");
        assert_eq!(bytes(687_000_000), "687 MB");
        assert_eq!(bytes(1_000_000_000), "1.00 GB");
    }

    #[test]
    fn averages_of_rare_services_are_not_zero() {
        assert_eq!(average(25.0), "25.0");
        assert_eq!(average(1.04), "1.0");
        assert_eq!(average(0.44), "0.44");
        assert_eq!(average(0.5), "0.5");
        assert_eq!(average(0.021), "0.021");
        assert_eq!(average(0.0037), "0.0037");
        assert_eq!(average(0.0), "0.0");
    }

    /// Issue 22: the ranking's axis read "0.0 0.0 0.0 0.0".
    #[test]
    fn ticks_are_distinct_at_any_scale() {
        for step in [
            0.001, 0.002, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2500.0,
        ] {
            let labels: Vec<String> = (0..5).map(|i| tick(i as f64 * step, step)).collect();
            let mut unique = labels.clone();
            unique.dedup();
            assert_eq!(unique.len(), labels.len(), "step {step}: {labels:?}");
        }
        assert_eq!(tick(0.75, 0.25), "0.75");
        assert_eq!(tick(0.5, 0.25), "0.5");
        assert_eq!(tick(0.004, 0.002), "0.004");
        assert_eq!(tick(7500.0, 2500.0), "7,500");
        assert_eq!(tick(0.0, 0.001), "0");
    }
}
