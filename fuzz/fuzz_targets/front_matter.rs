//! Front matter splitting and parsing, and the Markdown renderer behind it: any text must give a
//! page or an error with a line inside the file, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match cwfy::content::parse_page(Path::new("fuzz.md"), Path::new("about/fuzz.md"), text) {
        Ok(page) => assert!(!page.url.contains("..")),
        Err(cwfy::content::ContentError::FrontMatter { line, .. }) => {
            assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "line {line} outside the file");
        }
        Err(_) => {}
    }
});
