//! The dashboard's wording: dates, ordinals, durations and the sentences pages and cards say.

use super::{format_days, thousands};
use crate::aggregate::{Ranking, WindowStats};
use crate::domain::{Day, WardNo};
use crate::numbers::average;
pub use crate::numbers::ordinal;

/// A duration in days as the pages write it, or a dash when there is none.
pub(super) fn days_text(v: Option<f64>) -> String {
    v.map(format_days).unwrap_or_else(|| "—".into())
}

/// A date as people read it: "Friday, January 1, 2021".
pub fn long_date(d: Day) -> String {
    let date = d.date();
    format!(
        "{}, {} {}, {}",
        weekday_name(d),
        month_name(date.month()),
        date.day(),
        date.year()
    )
}

/// "Jan 1".
pub fn short_date(d: Day) -> String {
    let date = d.date();
    format!("{} {}", &month_name(date.month())[..3], date.day())
}

fn month_name(m: i8) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES[(m.clamp(1, 12) - 1) as usize]
}

/// "Monday" … "Sunday".
pub fn weekday_name(d: Day) -> &'static str {
    d.weekday_name()
}

/// The week's span as text: "December 28, 2020 – January 3, 2021".
pub fn week_label(monday: Day) -> String {
    let a = monday.date();
    let b = monday.plus(6).date();
    format!(
        "{} {}, {} – {} {}, {}",
        month_name(a.month()),
        a.day(),
        a.year(),
        month_name(b.month()),
        b.day(),
        b.year()
    )
}

/// The short comparison on a service card: "▲ 12% above average", "no baseline yet"….
pub(super) fn versus(baseline: Option<crate::aggregate::Baseline>, pct: Option<i64>) -> String {
    match (baseline, pct) {
        (None, _) => "no baseline yet".into(),
        (Some(_), Some(p)) if p > 0 => format!("▲ {p}% above average"),
        (Some(_), Some(p)) if p < 0 => format!("▼ {}% below average", -p),
        (Some(_), Some(_)) => "at the average".into(),
        (Some(b), None) => format!("none in the previous {} days", b.days),
    }
}

/// The sentence that says how a count compares with its baseline.
pub(super) fn baseline_sentence(
    count: u64,
    baseline: Option<crate::aggregate::Baseline>,
    pct: Option<i64>,
) -> String {
    let requests = if count == 1 { "request" } else { "requests" };
    match (baseline, pct) {
        (None, _) => format!(
            "{} {requests}; no baseline yet (no earlier days in the data).",
            thousands(count)
        ),
        (Some(b), _) if b.per_day == 0.0 => format!(
            "{} {requests}; none on the {} days before.",
            thousands(count),
            b.days
        ),
        (Some(b), Some(p)) if p > 0 => format!(
            "{} {requests}, {p}% above the average of {} a day over the previous {} days.",
            thousands(count),
            average(b.per_day),
            b.days
        ),
        (Some(b), Some(p)) if p < 0 => format!(
            "{} {requests}, {}% below the average of {} a day over the previous {} days.",
            thousands(count),
            -p,
            average(b.per_day),
            b.days
        ),
        (Some(b), _) => format!(
            "{} {requests}, the same as the average of {} a day over the previous {} days.",
            thousands(count),
            average(b.per_day),
            b.days
        ),
    }
}

/// "Among the K wards that closed M or more … Ward W ranked Nth, averaging X days", or why not.
pub fn ranking_sentence(
    ward: WardNo,
    service: &str,
    stats: &WindowStats,
    ranking: &Ranking,
) -> String {
    let terms = crate::domain::Terms::current();
    let ward_t = &terms.one_title;
    let ward_w = &terms.one;
    let wards_w = &terms.many;
    let k = ranking.ranked.len();
    let m = ranking.min_closed;
    match ranking.of(ward) {
        Some(r) => format!(
            "Among the {k} {wards_w} that closed {m} or more {service} requests this week, {ward_t} {ward} ranked {}, averaging {} to close.",
            ordinal(r.rank),
            format_days(r.ttc_mean_days)
        ),
        None if stats.closed == 0 => {
            format!("{ward_t} {ward} closed no {service} requests this week, so it is not ranked.")
        }
        None if stats.closed < m => format!(
            "{ward_t} {ward} closed {} {service} request{} this week; a {ward_w} needs {m} or more to be ranked.",
            stats.closed,
            if stats.closed == 1 { "" } else { "s" }
        ),
        None => format!(
            "{ward_t} {ward}'s closed {service} requests this week have no valid time to close, so it is not ranked."
        ),
    }
}

/// The one-sentence summary of a service's week in the city (page description and lede).
pub(super) fn service_week_summary(
    service: &str,
    city_name: &str,
    monday: Day,
    city: &WindowStats,
    complete: bool,
) -> String {
    if city.opened == 0 && city.closed == 0 {
        format!(
            "No {service} requests were opened or closed in {city_name} in the week of {}.",
            week_label(monday)
        )
    } else {
        format!(
            "In the week of {}, {city_name} opened {} and closed {} {service} requests{}{}.",
            week_label(monday),
            thousands(city.opened),
            thousands(city.closed),
            if complete { "" } else { " so far" },
            city.ttc
                .map(|t| format!(", closing them in {} on average", format_days(t.mean_days)))
                .unwrap_or_default()
        )
    }
}

/// The one-sentence summary of a ward's week (page description and feed entry).
pub(super) fn ward_week_summary(
    ward: WardNo,
    monday: Day,
    opened: u64,
    closed: u64,
    complete: bool,
) -> String {
    let terms = crate::domain::Terms::current();
    let ward_t = &terms.one_title;
    if opened == 0 && closed == 0 {
        format!(
            "No 311 requests were opened or closed in {ward_t} {ward} in the week of {}.",
            week_label(monday)
        )
    } else {
        format!(
            // Never a count right before "311": "closed 12 311 requests" reads as 12,311.
            "In the week of {}, {ward_t} {ward} opened {} service request{} and closed {}{}.",
            week_label(monday),
            thousands(opened),
            if opened == 1 { "" } else { "s" },
            thousands(closed),
            if complete { "" } else { " so far" }
        )
    }
}

/// An Open311 attribute's `datatype` as a reader would name the answer it wants.
pub(super) fn attribute_kind(datatype: &str) -> &'static str {
    match datatype {
        "number" => "a number",
        "datetime" => "a date and time",
        "text" => "a description",
        "singlevaluelist" => "one of a list",
        "multivaluelist" => "one or more of a list",
        _ => "a short answer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{root_of, urls};

    #[test]
    fn words_for_dates() {
        let d = Day::parse("2021-01-01").unwrap();
        assert_eq!(long_date(d), "Friday, January 1, 2021");
        assert_eq!(
            week_label(d.week_start()),
            "December 28, 2020 – January 3, 2021"
        );
        assert_eq!(root_of(&urls::ward_week(3, d.week_start())), "../../../../");
    }
}
