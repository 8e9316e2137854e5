//! `cwfy build` end to end: the content pipeline, the base layout, escaping, the atomic swap, and
//! the errors a user gets for broken input.

mod support;

use support::{Project, code_and_stderr};

const HOSTILE_CSV: &str = "sr_number,sr_type,sr_short_code,status,origin,created_date,last_modified_date,closed_date,street_address,duplicate,ward,latitude,longitude,parent_sr_number\n\
SR1,<script>alert('type')</script>,X1,Completed,Internet,2021-01-04T10:00:00.000,2021-01-05T00:00:00.000,2021-01-04T12:00:00.000,\"1 Main St <img src=x onerror=alert(1)>\",False,3,41.8,-87.6,\n\
SR2,Pothole in Street Complaint,PHF,Open,Internet,2021-01-05T10:00:00.000,,,\"2 \"\"Quoted\"\" Ave\",False,3,41.8,-87.6,\n";

#[test]
fn content_pages_are_rendered_in_the_base_layout() {
    let p = Project::new(7, 2);
    p.write(
        "content/about/extra.md",
        "---\ntitle: Fish & <Chips></title><script>x()</script>\ndescription: A test page\nweight: 5\nextra:\n  note: kept\n---\n\nSome **bold** text.\n\n## Table here\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nA note[^n].\n\n[^n]: The footnote.\n",
    );
    p.write(
        "content/about/draft.md",
        "---\ntitle: Not yet\ndraft: true\n---\nhidden\n",
    );
    p.ok(&["build"]);
    let html = p.read("site/about/extra/index.html");
    // The title is escaped: whatever minification leaves, no tag can start inside it.
    assert!(html.contains("<title>Fish &"), "{html}");
    assert!(!support::live_markup(&html).contains("<script"), "{html}");
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    assert!(html.contains("<h2 id=table-here>"), "{html}");
    assert!(
        html.contains("<table>") && html.contains("footnote-definition"),
        "{html}"
    );
    // Navigation with every section, and the City's disclaimer in the footer.
    for label in ["Home", "Wards", "Services", "Photos", "Data", "About"] {
        assert!(
            html.contains(&format!(">{label}</a>")),
            "nav {label}: {html}"
        );
    }
    assert!(
        html.contains("href=../../ward/index.html"),
        "relative nav links: {html}"
    );
    assert!(
        html.contains("The City of Chicago makes no claims as to the content, accuracy"),
        "{html}"
    );
    assert!(
        !p.join("site/about/draft/index.html").exists(),
        "drafts are not published"
    );
    // Our own About and Methodology pages are there.
    assert!(p.read("site/about/index.html").contains("What 311 is"));
    assert!(
        p.read("site/about/methodology/index.html")
            .contains("Rankings")
    );
    // Site files.
    assert!(
        p.read("site/robots.txt")
            .contains("Sitemap: https://cwfy.example.org/sitemap.xml")
    );
    let sitemap = p.read("site/sitemap.xml");
    assert!(
        sitemap.contains("<loc>https://cwfy.example.org/about/extra/</loc>"),
        "{sitemap}"
    );
    assert!(p.read("site/404.html").contains("Page not found"));
    assert!(
        p.read("site/style.css").starts_with(":root{"),
        "CSS is minified"
    );
}

#[test]
fn city_text_is_escaped_everywhere() {
    let p = Project::new(7, 2);
    p.write("hostile.csv", HOSTILE_CSV);
    p.ok(&["import", "hostile.csv"]);
    p.ok(&["build"]);
    let site = support::site_files(&p.join("site"));
    for (path, bytes) in site
        .iter()
        .filter(|(p, _)| p.ends_with(".html") || p.ends_with(".xml") || p.ends_with(".svg"))
    {
        let text = String::from_utf8_lossy(bytes);
        let live = support::live_markup(&text);
        assert!(!live.contains("<script"), "{path} has a live script");
        assert!(!live.contains("<img src=x"), "{path} has a live image");
    }
    let services = p.read("site/service/index.html");
    assert!(services.contains("&lt;script&gt;alert("), "{services}");
}

#[test]
fn sub_path_base_url_and_relative_links() {
    let p = Project::new(7, 2);
    p.write("hostile.csv", HOSTILE_CSV);
    p.ok(&["import", "hostile.csv"]);
    p.ok(&["build", "--base-url", "https://example.org/chicago"]);
    // Attribute quotes are dropped where HTML allows and kept around template values: compare
    // without them.
    let day = p.read("site/day/2021-01-05/index.html").replace('"', "");
    assert!(
        day.contains("href=https://example.org/chicago/day/2021-01-05/ rel=canonical"),
        "canonical: {day}"
    );
    assert!(day.contains("href=../../style.css"), "{day}");
    // No root-relative links: they would break under a sub-path and from disk.
    assert!(!day.contains("href=/"), "{day}");
    assert!(
        p.read("site/robots.txt")
            .contains("https://example.org/chicago/sitemap.xml")
    );
}

#[test]
fn a_failed_build_leaves_the_old_site_byte_identical() {
    let p = Project::new(7, 2);
    p.write("hostile.csv", HOSTILE_CSV);
    p.ok(&["import", "hostile.csv"]);
    p.ok(&["build"]);
    let before = support::site_files(&p.join("site"));
    let mtime = std::fs::metadata(p.join("site/index.html"))
        .unwrap()
        .modified()
        .unwrap();
    // A template that fails while rendering, after other pages were written.
    let template = p.read("templates/ward_week.html");
    p.write(
        "templates/ward_week.html",
        template.replace("{{ week.summary }}", "{{ week.summary | no_such_filter }}"),
    );
    let (code, stderr) = code_and_stderr(&p.run(&["build"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("ward_week.html"), "{stderr}");
    assert!(stderr.contains("left as it was"), "{stderr}");
    assert_eq!(
        support::site_files(&p.join("site")),
        before,
        "site/ changed"
    );
    assert_eq!(
        std::fs::metadata(p.join("site/index.html"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    let leftovers: Vec<_> = std::fs::read_dir(p.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("site."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_rebuild_keeps_unchanged_files_and_their_times() {
    let p = Project::new(7, 2);
    p.write("hostile.csv", HOSTILE_CSV);
    p.ok(&["import", "hostile.csv"]);
    p.ok(&["build"]);
    let mtime = std::fs::metadata(p.join("site/about/index.html"))
        .unwrap()
        .modified()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let stderr = p.ok(&["build"]);
    assert!(stderr.contains(" 0 written"), "{stderr}");
    assert_eq!(
        std::fs::metadata(p.join("site/about/index.html"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    let manifest: serde_json::Value = serde_json::from_str(&p.read("site/manifest.json")).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert!(
        files
            .iter()
            .any(|f| f["path"] == "about/index.html" && f["sha256"].as_str().unwrap().len() == 64)
    );
}

/// "units made" in a build's log.
fn units_made(log: &str) -> u64 {
    let at = log.find(" units made").expect("the build line");
    log[..at].rsplit(' ').next().unwrap().parse().unwrap()
}

/// Editing a page's words makes that page again and nothing else; a ward or service note makes
/// only that ward's or service's week pages again (what `cwfy serve` relies on).
#[test]
fn an_edited_page_or_note_remakes_only_the_pages_that_show_it() {
    let p = Project::new(7, 2);
    p.write("hostile.csv", HOSTILE_CSV);
    p.ok(&["import", "hostile.csv"]);
    let first = p.ok(&["build"]);
    let all = units_made(&first);
    assert!(all > 20, "{first}");
    let about = p.read("content/about/index.md");
    p.write(
        "content/about/index.md",
        format!("{about}\nOne more line.\n"),
    );
    let log = p.ok(&["build"]);
    assert_eq!(units_made(&log), 0, "{log}");
    assert!(p.read("site/about/index.html").contains("One more line."));
    let note = p.read("content/service/potholes.md");
    p.write(
        "content/service/potholes.md",
        format!("{note}\nA new paragraph on potholes.\n"),
    );
    let log = p.ok(&["build"]);
    let remade = units_made(&log);
    assert!(remade > 0 && remade < all / 4, "{remade} of {all}: {log}");
    let week = std::fs::read_dir(p.join("site/service/potholes/week"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let page = std::fs::read_to_string(week.join("index.html")).unwrap();
    assert!(page.contains("A new paragraph on potholes."));
}

/// A site that does not fit `site.budget` is not published: the previous site stays, and the
/// message names the kinds of page that take the most room and the pages over the page budget.
#[test]
fn a_site_over_its_budget_is_not_published_and_the_message_says_what_takes_room() {
    let p = Project::real_day(3, 1);
    let before = p.read("site/manifest.json");
    let files = before.matches("\"path\"").count();
    p.edit_config(
        "    files: 100000\n",
        &format!("    files: {}\n", files / 2),
    );
    let out = p.run(&["build", "--as-of", "2021-01-01"]);
    let (code, stderr) = support::code_and_stderr(&out);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("does not fit site.budget"), "{stderr}");
    assert!(stderr.contains("the previous site stays"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "of {} allowed",
            cwfy::numbers::thousands(files as u64 / 2)
        )),
        "{stderr}"
    );
    // The biggest kinds by file count come first: the ward × service pages and their charts.
    let kinds = stderr.split("take the most room:").nth(1).unwrap();
    assert!(kinds.contains("ward/*/*/: "), "{stderr}");
    assert!(kinds.contains("ward/*/week/*/: "), "{stderr}");
    assert_eq!(
        p.read("site/manifest.json"),
        before,
        "the old site is untouched"
    );

    p.edit_config(
        &format!("    files: {}\n", files / 2),
        "    files: 100000\n",
    );
    p.edit_config("    page_bytes: 100 KB\n", "    page_bytes: 8 KB\n");
    let out = p.run(&["build", "--as-of", "2021-01-01"]);
    let (code, stderr) = support::code_and_stderr(&out);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("too big: "), "{stderr}");
    assert!(stderr.contains("pages over 8 KB"), "{stderr}");
    // cwfy check holds pages to the same budget.
    let out = p.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    p.edit_config("    page_bytes: 8 KB\n", "    page_bytes: 100 KB\n");
    // Any one file, such as the manifest, is held to `file_bytes` (Cloudflare's 25 MiB).
    p.edit_config("    file_bytes: 25 MiB\n", "    file_bytes: 50 KB\n");
    let out = p.run(&["build", "--as-of", "2021-01-01"]);
    let (code, stderr) = support::code_and_stderr(&out);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("files over 50 KB"), "{stderr}");
    assert!(stderr.contains("too big a file: manifest.json"), "{stderr}");
    assert!(!stderr.contains("an earlier build published"), "{stderr}");
    p.edit_config("    file_bytes: 50 KB\n", "    file_bytes: 25 MiB\n");
    p.ok(&["build", "--as-of", "2021-01-01"]);

    // A file an earlier build published stays (issue 21) although this build no longer makes
    // it: the message says which files those are and how to drop them.
    let long = format!("---\ntitle: Long\n---\n{}\n", "word ".repeat(14_000));
    p.write("content/about/long.md", long);
    p.ok(&["build", "--as-of", "2021-01-01"]);
    std::fs::remove_file(p.join("content/about/long.md")).unwrap();
    p.edit_config("    file_bytes: 25 MiB\n", "    file_bytes: 50 KB\n");
    let out = p.run(&["build", "--as-of", "2021-01-01"]);
    let (code, stderr) = support::code_and_stderr(&out);
    assert_eq!(code, 1, "{stderr}");
    let line = (stderr.lines())
        .find(|l| l.contains("too big a file: about/long/index.html ("))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.ends_with(", as an earlier build published it)"),
        "{line}"
    );
    assert!(stderr.contains("cwfy build --prune"), "{stderr}");
    p.edit_config("    file_bytes: 50 KB\n", "    file_bytes: 25 MiB\n");
    p.ok(&["build", "--as-of", "2021-01-01"]);
    assert!(p.join("site/about/long/index.html").exists(), "kept");
}

#[test]
fn broken_front_matter_names_file_and_line() {
    let p = Project::new(7, 2);
    p.write(
        "content/about/bad.md",
        "---\ntitle: Fine\nlayuot: page\n---\nbody\n",
    );
    let (code, stderr) = code_and_stderr(&p.run(&["build"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("content/about/bad.md:3"), "{stderr}");
    assert!(stderr.contains("layuot"), "{stderr}");
    assert!(!p.join("site").exists(), "nothing half-written");

    p.write("content/about/bad.md", "---\ntitle: Fine\n");
    let (code, stderr) = code_and_stderr(&p.run(&["build"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("bad.md:1") && stderr.contains("closing"),
        "{stderr}"
    );
}

#[test]
fn missing_layout_names_page_and_choices() {
    let p = Project::new(7, 2);
    p.write(
        "content/about/bad.md",
        "---\ntitle: Fine\nlayout: fancy\n---\nbody\n",
    );
    let (code, stderr) = code_and_stderr(&p.run(&["build"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("bad.md") && stderr.contains("\"fancy\"") && stderr.contains("page"),
        "{stderr}"
    );
}

#[test]
fn template_syntax_error_names_template() {
    let p = Project::new(7, 2);
    p.write("templates/page.html", "{% extends \"base.html\" %}\n{% block content %}\n{{ page.content \n{% endblock content %}\n");
    let (code, stderr) = code_and_stderr(&p.run(&["build"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("page.html"), "{stderr}");
}

#[test]
fn unreadable_content_and_bad_config_are_clear() {
    let p = Project::new(7, 2);
    p.write(
        "content/about/latin1.md",
        b"---\ntitle: Caf\xe9\n---\n".as_slice(),
    );
    let (code, stderr) = code_and_stderr(&p.run(&["build"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("latin1.md") && stderr.contains("UTF-8"),
        "{stderr}"
    );
    std::fs::remove_file(p.join("content/about/latin1.md")).unwrap();

    p.edit_config("  language: en\n", "  language: en\n  colour: red\n");
    let (code, stderr) = code_and_stderr(&p.run(&["build"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("colour") && stderr.contains("line 9"),
        "{stderr}"
    );

    let (code, stderr) = code_and_stderr(&p.run(&["--config", "nope.yaml", "build"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nope.yaml"), "{stderr}");

    let (code, _) = code_and_stderr(&p.run(&["build", "--no-such-flag"]));
    assert_eq!(code, 2);
}

#[test]
fn empty_store_builds_a_site_that_says_so() {
    let p = Project::new(7, 2);
    p.ok(&["build"]);
    let home = p.read("site/index.html");
    assert!(home.contains("no 311 data in the store yet"), "{home}");
    assert!(p.join("site/about/index.html").exists());
}
