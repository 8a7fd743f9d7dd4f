//! Hostile text built in code: inputs whose number of findings or of name forms a
//! sender controls must cost time linear in their size. Each test runs well under
//! 2 s in a debug build; the quadratic code needed tens of seconds to minutes.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use facteur_core::PiiKind;
use facteur_privacy::Detector;

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed())
}

/// Every finding used to be compared with every kept one (overlap resolution), and
/// the context-found names were searched once per name: 1 MB of "DUPONT " lines
/// took 26 s in release.
#[test]
fn many_findings_are_resolved_in_linear_time() {
    let d = Detector::new();
    let shapes: [(&str, PiiKind); 3] = [
        ("Monsieur Jean Dupont ", PiiKind::PersonName),
        ("De : x@y.fr\n", PiiKind::Email),
        ("0123456789012\n", PiiKind::FiscalNumber),
    ];
    for (unit, kind) in shapes {
        let small = unit.repeat(16_000 / unit.len());
        let large = unit.repeat(64_000 / unit.len());
        let best = |t: &str| {
            (0..2)
                .map(|_| timed(|| d.pseudonymise_with_names(t, &["Jean Dupont"])).1)
                .min()
                .unwrap_or_default()
        };
        let ts = best(&small).max(Duration::from_millis(20));
        let (p, tl) = timed(|| d.pseudonymise_with_names(&large, &["Jean Dupont"]));
        assert!(
            tl < ts * 8 && tl < Duration::from_secs(2),
            "{unit:?}: {ts:?} at 16 KB, {tl:?} at 64 KB"
        );
        // Still found, every time: nothing was given up for speed.
        let n = p.spans.iter().filter(|s| s.kind == kind).count();
        assert!(n >= 64_000 / unit.len() / 2, "{unit:?}: {n} {kind:?}");
    }
}

/// A From display name of 20,000 distinct words gives 20,000 name forms; each was
/// searched with its own scan of the text (20,000 × 240 KB).
#[test]
fn a_huge_known_name_costs_one_scan() {
    let name: String = (0..20_000).map(|i| format!("Nom{i:05} ")).collect();
    let text = format!(
        "Bonjour,\n{}\nNom00042 et Nom19999 demandent un délai.\n",
        "Je demande un délai de paiement pour mon impôt. ".repeat(5_000)
    );
    let (spans, took) = timed(|| Detector::new().detect_with_names(&text, &[name.trim()]));
    assert!(took < Duration::from_secs(2), "{took:?}");
    let names: Vec<&str> = spans
        .iter()
        .filter(|s| s.kind == PiiKind::PersonName)
        .map(|s| &text[s.start..s.end])
        .collect();
    assert_eq!(names, vec!["Nom00042", "Nom19999"]);
}

/// The forms of a known name keep their priority: the whole name first, and a
/// word of it inside a match is not a second finding.
#[test]
fn known_name_forms_keep_their_priority() {
    let text = "Jean Dupont écrit. DUPONT Jean aussi, et jean seul, puis Dupont.";
    let spans = Detector::new().detect_with_names(text, &["Jean Dupont"]);
    let found: Vec<&str> = spans.iter().map(|s| &text[s.start..s.end]).collect();
    assert_eq!(found, vec!["Jean Dupont", "DUPONT Jean", "jean", "Dupont"]);
}
