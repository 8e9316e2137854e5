//! The bundled real sample: import counts per file and a build of the whole thing.

mod support;

use support::Project;

#[test]
fn sample_files_import_with_expected_counts() {
    let p = Project::new(7, 2);
    let out = p.run(&[
        "import",
        support::sample("sr-v6vf-nfxy-2021-01-01.csv")
            .to_str()
            .unwrap(),
    ]);
    let (code, stderr) = support::code_and_stderr(&out);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("2953 new"), "{stderr}");
    // Re-importing the same file changes nothing.
    let stderr = p.ok(&[
        "import",
        support::sample("sr-v6vf-nfxy-2021-01-01.csv")
            .to_str()
            .unwrap(),
    ]);
    assert!(
        stderr.contains("0 new, 0 updated, 2953 unchanged"),
        "{stderr}"
    );
    let stderr = p.ok(&[
        "import",
        support::sample("open311-requests-2014-page.json")
            .to_str()
            .unwrap(),
    ]);
    assert!(stderr.contains("50 new"), "{stderr}");
}
