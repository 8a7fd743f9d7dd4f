//! Hostile bytes through everything that reads raw mail: parse, clean, detect. Crashes here are panics on
//! input an attacker controls, so every one is a bug.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;

/// libfuzzer-sys aborts on every panic, even one that would be caught. parse_message
/// deliberately catches panics raised inside mail-parser (its debug_assert!s fire on
/// hostile nesting, see crates/mail/src/parse.rs), so let those unwind to it; any
/// other panic (our code, or one escaping parse_message) still aborts as a crash.
fn allow_caught_dependency_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_mail_parser = info
                .location()
                .is_some_and(|l| l.file().contains("/mail-parser-"));
            if !in_mail_parser {
                fuzzer_hook(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    allow_caught_dependency_panics();
    let parsed = facteur_mail::parse_message(data);
    assert!(!parsed.message_id.is_empty());
    for msg in facteur_mail::split_mbox(data) {
        let _ = facteur_mail::unescape_mbox_from(msg);
    }
    let _ = facteur_mail::split_input(data, "-");
    let _ = facteur_mail::html_to_text(&String::from_utf8_lossy(data));
    let _ = facteur_mail::uuencode::extract(&parsed.body_text);

    // The rest of what triage does to hostile text: clean, read, protect.
    let cleaned = facteur_text::clean(&parsed.body_text);
    let body = cleaned.new_text();
    let _ = facteur_text::detect_language(&body);
    let _ = facteur_text::extract_fields(&body);
    let _ = facteur_text::detect_flags(&body);
    let from = parsed.from.as_ref().and_then(|f| f.name.as_deref());
    let _ = facteur_text::correspondent(&cleaned, from);
    let _ = facteur_text::without_framing(&body);
    let _ = facteur_text::frames_only(&parsed.subject);
    let names: Vec<&str> = from.into_iter().collect();
    let protected = facteur_privacy::Detector::new().pseudonymise_with_names(&body, &names);
    for span in &protected.spans {
        assert!(span.start <= span.end && span.end <= body.len());
        assert!(body.is_char_boundary(span.start) && body.is_char_boundary(span.end));
    }
});
