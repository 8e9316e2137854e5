//! Numbers as people read them, the same on every page and chart: counts with thousands
//! separators, ordinals, durations in days.

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

/// Days in words, one decimal: `0.4 days`, `1 day`, `12.0 days`; `no data` for a figure that is
/// not a number.
pub fn days(d: f64) -> String {
    if !d.is_finite() {
        return "no data".into();
    }
    let rounded = (d * 10.0).round() / 10.0;
    if rounded == 1.0 {
        "1 day".into()
    } else {
        format!("{rounded:.1} days")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(days(0.96), "1 day");
        assert_eq!(days(0.44), "0.4 days");
        assert_eq!(days(12.0), "12.0 days");
        assert_eq!(days(f64::NAN), "no data");
    }
}
