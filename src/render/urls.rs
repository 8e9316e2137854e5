//! Page URLs, in one place so links and files always agree.

use crate::domain::{Day, Terms, WardNo};

/// `day/2021-01-01/`.
pub fn day(d: Day) -> String {
    format!("day/{d}/")
}
/// `day/2021-01/`: the files of a month of day pages (no page of its own).
pub fn day_month(d: Day) -> String {
    let date = d.date();
    format!("day/{:04}-{:02}/", date.year(), date.month())
}
/// `day/2021-01-01/potholes/`.
pub fn day_service(d: Day, slug: &str) -> String {
    format!("day/{d}/{slug}/")
}
/// `ward/` (or the city's word for a district: `district/`), the district index.
pub fn wards() -> String {
    format!("{}/", Terms::current().one)
}
/// `ward/3/`.
pub fn ward(w: WardNo) -> String {
    format!("{}/{w}/", Terms::current().one)
}
/// `ward/3/week/2020-12-28/`.
pub fn ward_week(w: WardNo, monday: Day) -> String {
    format!("{}/{w}/week/{monday}/", Terms::current().one)
}
/// `ward/3/week/2020/`: the files of a year of a ward's weeks (no page of its own).
pub fn ward_week_year(w: WardNo, year: i16) -> String {
    format!("{}/{w}/week/{year}/", Terms::current().one)
}
/// `ward/3/potholes/`.
pub fn ward_service(w: WardNo, slug: &str) -> String {
    format!("{}/{w}/{slug}/", Terms::current().one)
}
/// `service/potholes/`.
pub fn service(slug: &str) -> String {
    format!("service/{slug}/")
}

/// `service/potholes/week/2020-12-28/`.
pub fn service_week(slug: &str, monday: Day) -> String {
    format!("service/{slug}/week/{monday}/")
}

/// `service/potholes/week/2020/`: the files of a year of a service's week pages.
pub fn service_week_year(slug: &str, year: i16) -> String {
    format!("service/{slug}/week/{year}/")
}

/// `service/graffiti/2019/`: a year of a service whose weeks have no pages of their own.
pub fn service_year(slug: &str, year: i16) -> String {
    format!("service/{slug}/{year}/")
}

/// `week-2019-03-04`: the `id` of a week's section on a year page.
pub fn week_anchor(monday: Day) -> String {
    format!("week-{monday}")
}

/// A link relative to the site root, or none when the target page is not built.
pub(super) fn href(url: &str) -> String {
    super::file_of(url)
}

/// The link from the page at `page_url` to a ward's page.
pub(super) fn ward_link(page_url: &str, w: WardNo) -> String {
    format!("{}{}", super::root_of(page_url), super::file_of(&ward(w)))
}
