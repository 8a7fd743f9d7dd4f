//! Hostile bodies built in code (not fixtures): shapes a sender can make arbitrarily
//! large, which must cost time linear in their size and never overflow the stack.
//! Sizes are chosen so that each test runs well under 2 s in a debug build while the
//! old code needed minutes (quadratic) or aborted (recursion).
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use facteur_core::SegmentKind;
use facteur_text::{
    clean, correspondent, detect_flags, detect_language, extract_fields, without_framing,
};

/// Everything triage runs on a body, timed.
fn triage_text(body: &str) -> Duration {
    let t = Instant::now();
    let c = clean(body);
    let text = c.new_text();
    let _ = detect_language(&text);
    let _ = correspondent(&c, Some("Jean Dupont"));
    let _ = extract_fields(&text);
    let _ = detect_flags(&text);
    let _ = without_framing(&text);
    t.elapsed()
}

/// 100,000 nested forward markers used to recurse once per marker and abort the
/// process with a stack overflow (debug build, 2 MiB test thread stack).
#[test]
fn a_storm_of_forward_markers_does_not_overflow_the_stack() {
    let marker = "---------- Forwarded message ---------\n";
    let body = format!("Bonjour\n{}Le texte transféré\n", marker.repeat(100_000));
    let c = clean(&body);
    assert!(c.has(SegmentKind::Forwarded));
    let fwd = c.text_of(SegmentKind::Forwarded);
    assert!(
        fwd.ends_with("Le texte transféré"),
        "{}",
        &fwd[fwd.len() - 60..]
    );
}

/// Weak closings ("merci") were each checked against every line before and after
/// them: 100 KB of "merci" lines took 10 s in release. Now linear.
#[test]
fn many_weak_closing_lines_are_cleaned_in_linear_time() {
    let body = format!("Bonjour madame\nMa question.\n{}", "merci\n".repeat(30_000));
    let took = triage_text(&body);
    assert!(took < Duration::from_secs(2), "{took:?}");
    let c = clean(&body);
    assert!(
        c.new_text().starts_with("Ma question."),
        "{:?}",
        &c.new_text()[..40]
    );
    // Every line survives in some segment.
    let lines: usize = c.segments.iter().map(|s| s.text.lines().count()).sum();
    assert_eq!(lines, 30_002);
}

/// The semantics the linear rewrite must keep: a weak closing counts only with text
/// before it and nothing but a contact block after it.
#[test]
fn weak_closing_rules_are_unchanged() {
    let kinds =
        |b: &str| -> Vec<SegmentKind> { clean(b).segments.iter().map(|s| s.kind).collect() };
    use SegmentKind::*;
    assert_eq!(
        kinds("Ma question.\nMerci d'avance\nJean Dupont\n06 12 34 56 78\n"),
        vec![NewText, Closing, Signature]
    );
    // A sentence after the thanks: they were text.
    assert_eq!(
        kinds(
            "Ma question.\nMerci d'avance\nJe joins le document demandé par votre service hier.\n"
        ),
        vec![NewText]
    );
    // Thanks opening the mail are text.
    assert_eq!(kinds("Merci beaucoup\nMa question.\n"), vec![NewText]);
}

/// Linear-time shapes for the cleaner: time at 4x the size stays within ~4x (8x
/// allowed for noise on a shared machine; quadratic would be 16x).
#[test]
fn pathological_bodies_scale_linearly() {
    type Shape = (&'static str, fn(usize) -> String);
    let shapes: [Shape; 5] = [
        ("quotes", |n| "> ligne citée 12\n".repeat(n / 18)),
        ("reply headers", |n| {
            "Le 3 mars 2024, Jean Dupont a écrit :\n> x\n".repeat(n / 45)
        }),
        ("closings", |n| "Cordialement\n".repeat(n / 13)),
        ("outlook headers", |n| "De : x@y.fr\n".repeat(n / 12)),
        ("one line", |n| "Bonjour mon avis ".repeat(n / 17)),
    ];
    for (name, make) in shapes {
        let small = make(25_000);
        let large = make(100_000);
        // Best of three: the machine is shared, a single timing is noisy.
        let best = |b: &str| (0..3).map(|_| triage_text(b)).min().unwrap_or_default();
        let ts = best(&small).max(Duration::from_millis(20));
        let tl = best(&large);
        assert!(
            tl < ts * 8 && tl < Duration::from_secs(2),
            "{name}: {ts:?} at 25 KB, {tl:?} at 100 KB"
        );
    }
}
