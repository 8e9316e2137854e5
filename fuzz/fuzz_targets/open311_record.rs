//! Open311 record parsing: any bytes must give a request, an ignored record or a rejection with a
//! reason, never a panic; a request's text fields are cleaned.
#![no_main]

use cwfy::source::{Normalizer, Parsed, open311};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let n = Normalizer::new(jiff::tz::TimeZone::get("America/Chicago").unwrap(), 50);
    match open311::parse_record(&text, &n) {
        Parsed::Request(r, _) => {
            assert!(!r.id.is_empty());
            assert!(r.ward.is_none_or(|w| (1..=50).contains(&w)));
            for t in [&r.address, &r.description, &r.channel].into_iter().flatten() {
                assert!(!t.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
                assert!(t.chars().count() <= cwfy::source::MAX_TEXT_CHARS);
            }
            if let Some(url) = &r.media_url {
                assert!(url.to_ascii_lowercase().starts_with("http"));
            }
        }
        Parsed::Ignored(reason) | Parsed::Rejected(reason) => assert!(!reason.is_empty()),
    }
});
