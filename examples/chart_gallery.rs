//! Writes one chart of each kind, the three ward maps and a social card into a folder with an
//! `index.html`, to look at them in a browser and to measure their sizes:
//!
//! ```sh
//! cargo run --example chart_gallery -- /tmp/gallery
//! ```

use std::path::PathBuf;

use cwfy::charts::card::{Card, card_png};
use cwfy::charts::geo::BoundaryCache;
use cwfy::charts::maps::{MapLabels, MapWard, choropleth, ward_locator};
use cwfy::charts::*;
use cwfy::domain::Day;

fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "gallery".into()));
    std::fs::create_dir_all(&out)?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let names = [
        "Potholes",
        "Graffiti removal",
        "Street lights out",
        "Alley lights out",
        "Rats",
        "Garbage carts",
        "Abandoned vehicles",
        "Tree debris",
        "Tree trims",
        "Sanitation code violations",
        "Building violations",
        "Traffic signals out",
    ];
    let services: Vec<ServiceBar> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let base = 10.0 + (i * 37 % 90) as f64;
            let count = (base * (0.4 + (i * 13 % 10) as f64 / 7.0)).round() as u64;
            ServiceBar {
                name: n.to_string(),
                count,
                baseline: Some(base),
                baseline_days: 365,
                above_pct: Some(((count as f64 - base) / base * 100.0).round() as i64),
            }
        })
        .collect();
    let monday = Day::parse("2020-12-28").unwrap();
    let days: Vec<DayCounts> = (0..7)
        .map(|i| {
            let d = monday.plus(i);
            DayCounts {
                date: d.to_string(),
                weekday: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i as usize].into(),
                label: format!("{}/{}", d.date().month(), d.date().day()),
                opened: [42, 61, 38, 12, 55, 20, 9][i as usize],
                closed: [30, 70, 41, 0, 49, 3, 12][i as usize],
                future: false,
            }
        })
        .collect();
    let ranked: Vec<RankedWard> = (0..38)
        .map(|i| RankedWard {
            rank: i + 1,
            ward: ((i * 17) % 50 + 1) as u8,
            closed: 10 + i as u64,
            ttc_mean_days: if i == 0 { 0.01 } else { i as f64 * 0.37 },
        })
        .collect();
    let highlight = ranked[9].ward;
    let history: Vec<WeekHistory> = (0..160)
        .map(|i| {
            let start = Day::parse("2018-01-01").unwrap().plus(i * 7);
            let opened = (20.0 + 15.0 * ((i as f64) / 8.0).sin()).round() as u64;
            WeekHistory {
                start,
                opened,
                closed: opened.saturating_sub(3),
                ward_ttc: (i % 9 != 0).then(|| 3.0 + ((i as f64) / 5.0).cos() * 2.0),
                city_ttc: Some(3.5 + ((i as f64) / 11.0).sin()),
            }
        })
        .collect();
    let wards: Vec<WardWeekBar> = (1..=50)
        .map(|w| {
            let mut by_day = [0u64; 7];
            for (d, v) in by_day.iter_mut().enumerate() {
                *v = ((w * 7 + d as u64 * 3) % 11).saturating_sub(3);
            }
            WardWeekBar {
                ward: w as u8,
                by_day,
                closed: (w * 5) % 40,
            }
        })
        .collect();
    let busy = vec![
        BusyDay {
            date: "2016-09-28".into(),
            label: "Sep 28, 2016".into(),
            count: 210,
        },
        BusyDay {
            date: "2019-02-11".into(),
            label: "Feb 11, 2019".into(),
            count: 185,
        },
        BusyDay {
            date: "2014-01-06".into(),
            label: "Jan 6, 2014".into(),
            count: 160,
        },
        BusyDay {
            date: "2021-01-01".into(),
            label: "Jan 1, 2021".into(),
            count: 99,
        },
    ];
    let mut charts = vec![
        day_services("Friday, January 1, 2021", &services)?,
        week_opened_closed(3, "December 28, 2020 – January 3, 2021", &days)?,
        ttc_ranking(
            "ttc-ranking",
            "Potholes",
            "in the week of December 28, 2020",
            &ranked,
            10,
            Some(highlight),
        )?,
        busiest_days("busiest-days", "in Ward 3", &busy)?,
        weekly_history(3, "Potholes", &history)?,
        weekly_ttc(3, "Potholes", &history, Some(2.9), Some(3.5))?,
        service_wards("Potholes", "December 28, 2020 – January 3, 2021", &wards)?,
    ];
    let cache = BoundaryCache::new();
    for (name, file) in [
        ("2003", "wards-2003-2015.geojson"),
        ("2015", "wards-2015-2023-simplified.geojson"),
        ("2023", "wards-2023-simplified.geojson"),
    ] {
        let t = std::time::Instant::now();
        let b = cache.get(&root.join("data/boundaries").join(file), None)?;
        eprintln!(
            "{file}: loaded in {:?}, city points {}, detail points {}",
            t.elapsed(),
            b.city.point_count(),
            b.detail.point_count()
        );
        let values: Vec<MapWard> = b
            .wards()
            .map(|w| MapWard {
                ward: w,
                value: (u64::from(w) * 37) % 23 * u64::from(w % 3 != 0),
                href: format!("ward/{w}/"),
                note: None,
            })
            .collect();
        let mut m = choropleth(
            &b,
            "map",
            "Potholes requests on Friday, January 1, 2021",
            "request",
            name,
            &values,
            MapLabels::Count,
        );
        m.id = format!("map-{name}");
        charts.push(m);
        let mut c = choropleth(
            &b,
            "wards-map",
            "requests this week",
            "request",
            name,
            &values,
            MapLabels::Ward,
        );
        c.id = format!("wards-map-{name}");
        charts.push(c);
        for w in [3u8, 42, 10] {
            let mut l = ward_locator(&b, w, name, |v| format!("ward/{v}/"));
            l.id = format!("ward-map-{name}-{w}");
            charts.push(l);
        }
    }
    let mut html = String::from(
        "<!doctype html><meta charset=utf-8><title>gallery</title><style>body{font-family:sans-serif;max-width:700px;margin:auto}svg{width:100%;height:auto;border:1px solid #ccc}</style>",
    );
    for c in &charts {
        std::fs::write(out.join(format!("{}.svg", c.id)), &c.svg)?;
        std::fs::write(out.join(format!("{}.csv", c.id)), c.csv())?;
        std::fs::write(
            out.join(format!("{}.json", c.id)),
            c.json_document("chart gallery"),
        )?;
        println!("{:24} {:>7} bytes  {}", c.id, c.svg.len(), c.desc);
        html.push_str(&format!("<h2>{}</h2><p>{}</p>{}", c.id, c.alt, c.svg));
    }
    let card = Card {
        site: "Chicago Works For You".into(),
        title: "Ward 3, week of December 28, 2020".into(),
        figure: "1,234".into(),
        caption: "requests opened; 1,100 closed".into(),
        footer: "Source: City of Chicago 311 via Open311, data through 2021-01-01, cwfy".into(),
    };
    let t = std::time::Instant::now();
    let png = card_png(&card)?;
    println!("card.png {:>7} bytes in {:?}", png.len(), t.elapsed());
    std::fs::write(out.join("card.png"), png)?;
    html.push_str("<h2>card</h2><img src=card.png width=600>");
    std::fs::write(out.join("index.html"), html)?;
    Ok(())
}
