//! `cwfy check` on a real build: a freshly built site passes; a site with a broken link, a
//! missing fragment, an oversized page, a chart without a description and a broken feed fails
//! with each offender named and exit status 1.

mod support;

use support::Project;

/// A project with one real day of Chicago data, built into `site/`.
fn built() -> Project {
    Project::real_day(7, 2)
}

#[test]
fn a_built_site_passes_and_a_damaged_one_fails_naming_each_offender() {
    let p = built();
    let out = p.run(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("all good"), "{stdout}");
    // It looked at the whole site, not an empty folder.
    let pages: usize = stdout
        .split(" pages")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(pages > 100, "{stdout}");

    // Damage it.
    let ward = p.read("site/ward/1/index.html");
    p.write(
        "site/ward/1/index.html",
        ward.replacen(
            "</main>",
            "<p><a href=../77/index.html>gone</a> <a href=../../data/index.html#no-such-part>part</a> \
             <a href=\"../../data/index.html#api\">fine</a></p></main>",
            1,
        ),
    );
    p.write(
        "site/about/big/index.html",
        format!(
            "<!doctype html><html lang=en><title>Big</title><p>{}</p></html>",
            "x".repeat(120_000)
        ),
    );
    p.write(
        "site/about/chart/index.html",
        "<!doctype html><html lang=en><title>Chart</title><main><figure class=chart>\
         <svg role=img aria-label=\"Requests by day\" viewBox=\"0 0 10 10\"><title>Requests by day</title>\
         <rect width=1 height=1/></svg><table><tr><td>1</td></tr></table></figure></main></html>",
    );
    p.write("site/feeds/ward/2.xml", "<feed><entry></feed>");

    let out = p.run(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for expected in [
        "Broken links (1):\n  ward/1/index.html: ../77/index.html (no file ward/77/index.html)",
        "Links to a missing #fragment (1):\n  ward/1/index.html: ../../data/index.html#no-such-part (no id \"no-such-part\" in data/index.html)",
        "Pages over the size budget (1):\n  about/big/index.html: ",
        "Charts without a description (<desc>) (1):\n  about/chart/index.html: <svg aria-label=\"Requests by day\">",
        "SVG and XML files that do not parse (1):\n  feeds/ward/2.xml: ",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // The chart has its title and its table: only the description is reported.
    assert!(!stdout.contains("Charts without a title"), "{stdout}");
    assert!(!stdout.contains("Charts without a table"), "{stdout}");
}

#[test]
fn a_missing_site_is_an_error_that_says_what_to_do() {
    let p = Project::new(7, 2);
    let out = p.run(&["check", "nowhere"]);
    let (code, stderr) = support::code_and_stderr(&out);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("nowhere: no such folder"), "{stderr}");
    assert!(stderr.contains("cwfy build"), "{stderr}");
}

/// Issue 21: a page journalists linked to must not vanish. `cwfy check --against` an earlier
/// build's manifest lists every address that build published and this site no longer has.
#[test]
fn check_against_an_earlier_manifest_lists_the_addresses_that_vanished() {
    let p = Project::new(10, 2);
    // Ten days of requests, one a day in Ward 3.
    let lines: String = (1..=10)
        .map(|d| {
            format!(
                "{{\"service_request_id\": \"R{d}\", \"status\": \"open\", \"service_name\": \"Pothole in Street\", \"service_code\": \"4fd3b656e750846c53000004\", \"requested_datetime\": \"2021-03-{d:02}T08:00:00-06:00\", \"extended_attributes\": {{\"ward\": \"3\"}}}}\n"
            )
        })
        .collect();
    p.write("ten-days.jsonl", lines);
    p.ok(&["import", "ten-days.jsonl"]);
    p.ok(&["build", "--as-of", "2021-03-10"]);
    let earlier = p.join("earlier-manifest.json");
    std::fs::copy(p.join("site/manifest.json"), &earlier).unwrap();
    let same = p.run(&["check", "--against", earlier.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&same.stdout).into_owned();
    assert_eq!(same.status.code(), Some(0), "{stdout}");
    // The site folder itself works as well as its manifest.
    let folder = p.run(&["check", "--against", p.join("site").to_str().unwrap()]);
    assert_eq!(folder.status.code(), Some(0));

    // Publish fewer days and weeks: the pages that fall out of the window stay as they were,
    // and so do their views in the month's and year's chart files, which are made again for
    // the days and weeks still in it (the whole-site check below follows every view link).
    p.edit_config("  days: 10\n", "  days: 3\n");
    p.edit_config("  weeks: 2\n", "  weeks: 1\n");
    let first_day = p.join("site/day/2021-03-01/index.html");
    let first_week = p.join("site/ward/3/week/2021-03-01/index.html");
    let before = (
        std::fs::read(&first_day).unwrap(),
        std::fs::read(&first_week).unwrap(),
    );
    p.ok(&["build", "--as-of", "2021-03-10"]);
    assert_eq!(std::fs::read(&first_day).unwrap(), before.0);
    assert_eq!(std::fs::read(&first_week).unwrap(), before.1);
    for (bundle, view) in [
        ("day/2021-03/map.svg", "day-2021-03-01"),
        ("ward/3/week/2021/opened-closed.svg", "week-2021-03-01"),
    ] {
        let svg = p.read(&format!("site/{bundle}"));
        assert!(svg.contains(&format!("<view id=\"{view}\"")), "{bundle}");
    }
    let kept = p.run(&["check", "--against", earlier.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&kept.stdout).into_owned();
    assert_eq!(kept.status.code(), Some(0), "{stdout}");
    // The whole site, kept pages included, still passes every check.
    let whole = p.run(&["check"]);
    assert_eq!(
        whole.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&whole.stdout)
    );

    // Pruned, they vanish, and the check against the earlier manifest lists them.
    p.ok(&["build", "--as-of", "2021-03-10", "--prune"]);
    assert!(!first_day.exists());
    let out = p.run(&["check", "--against", earlier.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Addresses an earlier build published"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  day/2021-03-01/index.html: listed in "),
        "{stdout}"
    );
    assert!(
        stdout.contains("  day/2021-03-07/index.html: listed in "),
        "{stdout}"
    );
    assert!(!stdout.contains("  day/2021-03-08/index.html"), "{stdout}");

    let bad = p.join("not-a-manifest.json");
    std::fs::write(&bad, "[1, 2]").unwrap();
    let out = p.run(&["check", "--against", bad.to_str().unwrap()]);
    let (code, stderr) = support::code_and_stderr(&out);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not a cwfy manifest.json"), "{stderr}");
}

/// Issue 21: addresses an earlier version published whose content moved. A page per featured
/// service and day (`day/DATE/SERVICE/`) is now part of the day page: a site that published
/// one gets a redirect page there, without JavaScript, and keeps its data files.
#[test]
fn a_moved_page_published_earlier_becomes_a_redirect_and_its_data_files_stay() {
    let p = built();
    let site = p.join("site");
    // The first day page (not a month's folder of chart files).
    let day = std::fs::read_dir(site.join("day"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.len() == "2021-03-01".len())
        .min()
        .unwrap();
    let old = format!("day/{day}/potholes");
    assert!(!site.join(&old).exists(), "a new site has no such page");
    // The site as an earlier version published it: the page, its map's data, in the manifest.
    let mut manifest: serde_json::Value =
        serde_json::from_str(&p.read("site/manifest.json")).unwrap();
    for (name, text) in [
        ("index.html", "<!doctype html><title>old</title><p>old page"),
        ("map.csv", "ward,requests\n1,2\n"),
    ] {
        let rel = format!("{old}/{name}");
        p.write(&format!("site/{rel}"), text);
        let sha256 = cwfy::publish::hex(&<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
        manifest["files"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "path": rel, "size": text.len(), "sha256": sha256
            }));
    }
    p.write("site/manifest.json", manifest.to_string());
    let earlier = p.join("earlier-manifest.json");
    std::fs::copy(p.join("site/manifest.json"), &earlier).unwrap();

    p.ok(&["build"]);
    let redirect = p.read(&format!("site/{old}/index.html")).replace('"', "");
    assert!(
        redirect.contains(&format!(
            "http-equiv=refresh content=0; url=../../../day/{day}/#by-ward"
        )) || redirect.contains(&format!(
            "content=0; url=../../../day/{day}/#by-ward http-equiv=refresh"
        )),
        "{redirect}"
    );
    assert!(
        redirect.contains(&format!(
            "<link href=https://cwfy.example.org/day/{day}/ rel=canonical>"
        )),
        "{redirect}"
    );
    assert!(
        redirect.contains(&format!("<a href=../../../day/{day}/#by-ward>")),
        "{redirect}"
    );
    assert_eq!(
        p.read(&format!("site/{old}/map.csv")),
        "ward,requests\n1,2\n"
    );
    // The redirect's target exists, with its fragment: the whole site checks, and nothing the
    // earlier build published is missing.
    let out = p.run(&["check", "--against", earlier.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
}
