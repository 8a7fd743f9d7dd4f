//! Drift indicators per mailbox and ISO week. Pure: observations come from the
//! store (see `collect`) or from a simulation, and the same code judges both.

use std::collections::{BTreeMap, HashSet};

use facteur_store::Millis;
use serde::{Deserialize, Serialize};

/// The words a model saw in training, normalised like the classifier's input.
/// Written next to the model (`vocab.txt`) because the classifier hashes its
/// features and cannot say whether a word is known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vocabulary {
    words: HashSet<String>,
}

impl Vocabulary {
    pub fn from_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut words = HashSet::new();
        for t in texts {
            for w in facteur_classify::features::normalize(t).split_whitespace() {
                if is_word(w) {
                    words.insert(w.to_string());
                }
            }
        }
        Self { words }
    }

    pub fn from_words(words: impl IntoIterator<Item = String>) -> Self {
        Self {
            words: words.into_iter().collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Sorted, one per line: a stable file whose hash identifies the vocabulary.
    pub fn to_lines(&self) -> String {
        let mut w: Vec<&String> = self.words.iter().collect();
        w.sort();
        let mut s = String::new();
        for x in w {
            s.push_str(x);
            s.push('\n');
        }
        s
    }

    /// (unseen tokens, tokens) of a text. Digits-only tokens and pseudonymisation
    /// placeholders are skipped: amounts and masked names are always "new" and
    /// would drown the signal.
    pub fn oov_counts(&self, text: &str) -> (u32, u32) {
        let mut unseen = 0u32;
        let mut total = 0u32;
        for w in facteur_classify::features::normalize(text).split_whitespace() {
            if !is_word(w) {
                continue;
            }
            total = total.saturating_add(1);
            if !self.words.contains(w) {
                unseen = unseen.saturating_add(1);
            }
        }
        (unseen, total)
    }
}

fn is_word(w: &str) -> bool {
    w.chars().any(|c| c.is_alphabetic())
        && !matches!(
            w,
            "nom" | "numero" | "fiscal" | "nir" | "iban" | "email" | "telephone" | "adresse"
        )
}

/// One triaged message, as drift monitoring sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub mailbox_id: i64,
    /// When the message was received.
    pub at: Millis,
    /// The model's top label, even when it abstained: abstention is measured
    /// separately, and dropping abstained messages would hide the very shift
    /// (unfamiliar requests) that drift is about.
    pub predicted: Option<String>,
    pub confidence: Option<f32>,
    pub abstained: bool,
    pub oov_tokens: u32,
    pub tokens: u32,
    pub draft_shown: bool,
    /// Normalised edit distance between the draft and the reply sent, when a reply
    /// based on the draft was sent.
    pub sent_edit_distance: Option<f64>,
    pub corrected: bool,
    /// When the agent opened the message, if known, and validated the reply.
    pub opened_at: Option<Millis>,
    pub validated_at: Option<Millis>,
    /// The model version of the message's triage (`None`: triaged without a
    /// model). Drift compares a prediction with its own model's training mix, so
    /// the supervision page keeps only the active version's observations.
    pub model_version: Option<String>,
}

impl Observation {
    /// A message that only has a prediction (no agent activity yet).
    pub fn predicted(mailbox_id: i64, at: Millis, predicted: &facteur_core::Prediction) -> Self {
        Self {
            mailbox_id,
            at,
            predicted: predicted.top.first().map(|s| s.label.clone()),
            confidence: Some(predicted.confidence),
            abstained: predicted.abstained,
            oov_tokens: 0,
            tokens: 0,
            draft_shown: false,
            sent_edit_distance: None,
            corrected: false,
            opened_at: None,
            validated_at: None,
            model_version: None,
        }
    }
}

pub const EDIT_MAX_WORDS: usize = 3_000;

/// Normalised word-level Levenshtein distance in [0, 1] (0 = identical). Words,
/// not characters: agents edit by words and it is quadratic in fewer units.
/// Texts are cut at [`EDIT_MAX_WORDS`] words: the distance is quadratic, and a
/// pasted 100-page reply must not stall a dashboard.
pub fn edit_distance(draft: &str, sent: &str) -> f64 {
    let a: Vec<&str> = draft.split_whitespace().take(EDIT_MAX_WORDS).collect();
    let b: Vec<&str> = sent.split_whitespace().take(EDIT_MAX_WORDS).collect();
    let n = a.len().max(b.len());
    if n == 0 {
        return 0.0;
    }
    strsim::generic_levenshtein(&a, &b) as f64 / n as f64
}

/// Alert thresholds; the defaults follow the usual PSI reading
/// (< 0.1 stable, 0.1–0.2 watch, > 0.2 shifted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DriftThresholds {
    pub psi_warn: f64,
    pub psi_alert: f64,
    /// Floor for a share in the PSI, so a class absent on one side gives a large
    /// but finite term.
    pub psi_epsilon: f64,
    /// Weeks with fewer messages are reported but never alert: a dozen messages
    /// cannot estimate a 30-class distribution.
    pub min_messages: usize,
    pub oov_alert: f64,
    pub abstain_alert: f64,
    /// Alert when acceptance falls below this.
    pub acceptance_alert_below: f64,
    /// Acceptance is judged on the drafts agents have handled (a reply sent, or
    /// the type corrected), and only from this many: drafts nobody opened yet
    /// say nothing about their quality, and counting them as refused raised the
    /// acceptance alert on a week whose drafts were simply not handled yet.
    pub min_handled_drafts: usize,
    /// Edit distance up to which a sent draft counts as "lightly edited".
    pub light_edit_max: f64,
}

impl Default for DriftThresholds {
    fn default() -> Self {
        Self {
            psi_warn: 0.1,
            psi_alert: 0.2,
            psi_epsilon: 1e-4,
            min_messages: 30,
            oov_alert: 0.35,
            abstain_alert: 0.5,
            acceptance_alert_below: 0.5,
            min_handled_drafts: 20,
            light_edit_max: 0.2,
        }
    }
}

/// Population stability index of `actual` against `expected` (shares or counts,
/// each normalised here), over the union of their labels.
pub fn psi(expected: &BTreeMap<String, f64>, actual: &BTreeMap<String, f64>, eps: f64) -> f64 {
    let te: f64 = expected.values().filter(|v| **v > 0.0).sum();
    let ta: f64 = actual.values().filter(|v| **v > 0.0).sum();
    if te <= 0.0 || ta <= 0.0 {
        return 0.0;
    }
    let eps = eps.max(1e-12);
    let keys: std::collections::BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    keys.into_iter()
        .map(|k| {
            let q = (expected.get(k).copied().unwrap_or(0.0).max(0.0) / te).max(eps);
            let p = (actual.get(k).copied().unwrap_or(0.0).max(0.0) / ta).max(eps);
            (p - q) * (p / q).ln()
        })
        .sum()
}

/// Pseudo-count added to every label of a week before its PSI: an absent label
/// then weighs like half a message instead of the `psi_epsilon` floor, which
/// made every small week look like a collapse of the types it happened to lack.
pub const PSI_PSEUDO_COUNT: f64 = 0.5;

/// The PSI of one week's predicted counts against the training shares, net of
/// what sampling alone gives. With `n` messages over `k` labels, a week drawn
/// from the very training mix has a PSI of about `(k - 1) / n` (PSI is close to a
/// chi-square over `n`): 1.0 for 30 request types and 30 messages, far above the
/// 0.2 alert threshold. That expected noise is subtracted (floored at 0) after
/// smoothing the counts, so the value and its threshold mean "shift beyond
/// chance" at any weekly volume, while a large shift still shows.
pub fn weekly_psi(
    expected: &BTreeMap<String, f64>,
    counts: &BTreeMap<String, usize>,
    eps: f64,
) -> f64 {
    let n: usize = counts.values().sum();
    if n == 0 {
        return 0.0;
    }
    let keys: std::collections::BTreeSet<&String> = expected.keys().chain(counts.keys()).collect();
    let k = keys.len();
    let smoothed: BTreeMap<String, f64> = keys
        .into_iter()
        .map(|l| {
            (
                l.clone(),
                counts.get(l).copied().unwrap_or(0) as f64 + PSI_PSEUDO_COUNT,
            )
        })
        .collect();
    let noise = k.saturating_sub(1) as f64 / n as f64;
    let v = psi(expected, &smoothed, eps) - noise;
    if v.is_finite() {
        v.max(0.0)
    } else {
        0.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Warn,
    Alert,
}

/// `2025-W24` and the Monday that starts it.
pub fn iso_week(ms: Millis) -> (String, String) {
    match time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) {
        Ok(t) => {
            let d = t.date();
            let (y, w, _) = d.to_iso_week_date();
            let monday = time::Date::from_iso_week_date(y, w, time::Weekday::Monday)
                .map(|m| format!("{:04}-{:02}-{:02}", m.year(), u8::from(m.month()), m.day()))
                .unwrap_or_default();
            (format!("{y:04}-W{w:02}"), monday)
        }
        Err(_) => ("invalid".into(), String::new()),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekIndicators {
    pub mailbox_id: i64,
    pub week: String,
    pub week_start: String,
    pub messages: usize,
    /// [`weekly_psi`]: the shift of the predicted mix beyond sampling noise.
    pub psi: f64,
    pub psi_level: Level,
    pub predicted_distribution: BTreeMap<String, usize>,
    pub mean_confidence: Option<f64>,
    /// Ten bins of width 0.1, [0,0.1) … [0.9,1].
    pub confidence_histogram: [u32; 10],
    pub abstain_rate: f64,
    pub oov_rate: Option<f64>,
    pub drafts_shown: usize,
    /// Drafts an agent acted on: a reply was sent, or the type corrected.
    pub drafts_handled: usize,
    /// Sent unchanged or lightly edited / drafts handled; `None` before any is handled.
    pub acceptance_rate: Option<f64>,
    pub mean_edit_distance: Option<f64>,
    pub correction_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftAlert {
    pub mailbox_id: i64,
    pub week: String,
    pub indicator: String,
    pub value: f64,
    pub threshold: f64,
    pub level: Level,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub weeks: Vec<WeekIndicators>,
    pub alerts: Vec<DriftAlert>,
}

/// Group by (mailbox, ISO week) and compute every indicator, with alerts.
/// `training` is the label distribution the active model was trained on.
pub fn drift_report(
    observations: &[Observation],
    training: &BTreeMap<String, f64>,
    th: &DriftThresholds,
) -> DriftReport {
    let mut groups: BTreeMap<(i64, String), (String, Vec<&Observation>)> = BTreeMap::new();
    for o in observations {
        let (w, start) = iso_week(o.at);
        groups
            .entry((o.mailbox_id, w))
            .or_insert_with(|| (start, Vec::new()))
            .1
            .push(o);
    }
    let mut weeks = Vec::new();
    let mut alerts = Vec::new();
    for ((mailbox_id, week), (week_start, obs)) in groups {
        let n = obs.len();
        let mut dist: BTreeMap<String, usize> = BTreeMap::new();
        for o in &obs {
            if let Some(l) = &o.predicted {
                *dist.entry(l.clone()).or_default() += 1;
            }
        }
        let psi_v = weekly_psi(training, &dist, th.psi_epsilon);
        let enough = n >= th.min_messages;
        let psi_level = if !enough {
            Level::Ok
        } else if psi_v > th.psi_alert {
            Level::Alert
        } else if psi_v > th.psi_warn {
            Level::Warn
        } else {
            Level::Ok
        };
        let confs: Vec<f64> = obs
            .iter()
            .filter_map(|o| o.confidence)
            .map(f64::from)
            .collect();
        let mut hist = [0u32; 10];
        for c in &confs {
            // f32 confidences widened to f64 sit just below round values (0.9 → 0.8999…).
            let b = ((c.clamp(0.0, 1.0) * 10.0 + 1e-6) as usize).min(9);
            hist[b] += 1;
        }
        let abstain_rate = obs.iter().filter(|o| o.abstained).count() as f64 / n.max(1) as f64;
        let (unseen, tokens) = obs.iter().fold((0u64, 0u64), |a, o| {
            (a.0 + u64::from(o.oov_tokens), a.1 + u64::from(o.tokens))
        });
        let oov_rate = (tokens > 0).then(|| unseen as f64 / tokens as f64);
        let shown: Vec<&&Observation> = obs.iter().filter(|o| o.draft_shown).collect();
        let handled = shown
            .iter()
            .filter(|o| o.sent_edit_distance.is_some() || o.corrected)
            .count();
        let accepted = shown
            .iter()
            .filter(|o| o.sent_edit_distance.is_some_and(|d| d <= th.light_edit_max))
            .count();
        let edits: Vec<f64> = obs.iter().filter_map(|o| o.sent_edit_distance).collect();
        let wi = WeekIndicators {
            mailbox_id,
            week: week.clone(),
            week_start,
            messages: n,
            psi: psi_v,
            psi_level,
            predicted_distribution: dist,
            mean_confidence: mean(&confs),
            confidence_histogram: hist,
            abstain_rate,
            oov_rate,
            drafts_shown: shown.len(),
            drafts_handled: handled,
            acceptance_rate: (handled > 0).then(|| accepted as f64 / handled as f64),
            mean_edit_distance: mean(&edits),
            correction_rate: obs.iter().filter(|o| o.corrected).count() as f64 / n.max(1) as f64,
        };
        if enough {
            let mut push = |indicator: &str, value: f64, threshold: f64, level: Level| {
                alerts.push(DriftAlert {
                    mailbox_id,
                    week: week.clone(),
                    indicator: indicator.into(),
                    value,
                    threshold,
                    level,
                })
            };
            match psi_level {
                Level::Alert => push("psi", psi_v, th.psi_alert, Level::Alert),
                Level::Warn => push("psi", psi_v, th.psi_warn, Level::Warn),
                Level::Ok => {}
            }
            if let Some(r) = oov_rate.filter(|r| *r > th.oov_alert) {
                push("oov_rate", r, th.oov_alert, Level::Alert);
            }
            if abstain_rate > th.abstain_alert {
                push("abstain_rate", abstain_rate, th.abstain_alert, Level::Alert);
            }
            if let Some(a) = wi
                .acceptance_rate
                .filter(|_| handled >= th.min_handled_drafts)
                .filter(|a| *a < th.acceptance_alert_below)
            {
                push(
                    "acceptance_rate",
                    a,
                    th.acceptance_alert_below,
                    Level::Alert,
                );
            }
        }
        weeks.push(wi);
    }
    DriftReport { weeks, alerts }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Configuration of the "time given back" estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimeConfig {
    /// What writing a reply by hand takes (editable by the service).
    pub minutes_per_reply: f64,
    /// Time assumed to read and check a draft when opening time is unknown.
    pub review_minutes_unmeasured: f64,
    pub light_edit_max: f64,
    /// Handling times above this are an agent who left the tab open: ignored.
    pub max_measured_minutes: f64,
}

impl Default for TimeConfig {
    fn default() -> Self {
        Self {
            minutes_per_reply: 6.0,
            review_minutes_unmeasured: 1.0,
            light_edit_max: 0.2,
            max_measured_minutes: 60.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekTime {
    pub week: String,
    pub week_start: String,
    /// Drafts sent unchanged or lightly edited.
    pub replies_from_drafts: usize,
    /// Of those, how many had an opening→sending time.
    pub measured: usize,
    pub median_handling_minutes: Option<f64>,
    pub hours_given_back: f64,
}

/// Hours given back per ISO week, all mailboxes together. Each reply sent from a
/// draft saves the manual time minus what the agent really spent on it (opening →
/// validation) when measured, else minus an assumed check time.
pub fn time_given_back(observations: &[Observation], cfg: &TimeConfig) -> Vec<WeekTime> {
    let mut groups: BTreeMap<String, (String, Vec<&Observation>)> = BTreeMap::new();
    for o in observations {
        if o.draft_shown
            && o.sent_edit_distance
                .is_some_and(|d| d <= cfg.light_edit_max)
        {
            let (w, start) = iso_week(o.validated_at.unwrap_or(o.at));
            groups
                .entry(w)
                .or_insert_with(|| (start, Vec::new()))
                .1
                .push(o);
        }
    }
    groups
        .into_iter()
        .map(|(week, (week_start, obs))| {
            let mut measured: Vec<f64> = Vec::new();
            let mut saved = 0.0;
            for o in &obs {
                let m = match (o.opened_at, o.validated_at) {
                    (Some(a), Some(b)) if b >= a => Some((b - a) as f64 / 60_000.0),
                    _ => None,
                }
                .filter(|m| *m <= cfg.max_measured_minutes);
                match m {
                    Some(m) => {
                        measured.push(m);
                        saved += (cfg.minutes_per_reply - m).max(0.0);
                    }
                    None => {
                        saved += (cfg.minutes_per_reply - cfg.review_minutes_unmeasured).max(0.0)
                    }
                }
            }
            measured.sort_by(f64::total_cmp);
            let median = (!measured.is_empty()).then(|| {
                let k = measured.len();
                if k % 2 == 1 {
                    measured[k / 2]
                } else {
                    (measured[k / 2 - 1] + measured[k / 2]) / 2.0
                }
            });
            WeekTime {
                week,
                week_start,
                replies_from_drafts: obs.len(),
                measured: measured.len(),
                median_handling_minutes: median,
                hours_given_back: saved / 60.0,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_750_032_000_000; // Monday 2025-06-16 00:00 UTC
    const WEEK: Millis = 7 * 24 * 3600 * 1000;

    fn dist(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn psi_is_zero_for_same_mix_and_grows_with_shift() {
        let e = dist(&[("a", 50.0), ("b", 50.0)]);
        assert!(psi(&e, &dist(&[("a", 5.0), ("b", 5.0)]), 1e-4).abs() < 1e-12);
        let small = psi(&e, &dist(&[("a", 55.0), ("b", 45.0)]), 1e-4);
        let big = psi(&e, &dist(&[("a", 90.0), ("b", 10.0)]), 1e-4);
        // hand value: (0.55-0.5)ln(1.1) + (0.45-0.5)ln(0.9)
        let hand = 0.05 * (1.1f64).ln() - 0.05 * (0.9f64).ln();
        assert!((small - hand).abs() < 1e-12);
        assert!(big > 0.2 && small < 0.1);
        // A class never seen in training: finite thanks to epsilon.
        let new = psi(&e, &dist(&[("a", 1.0), ("c", 1.0)]), 1e-4);
        assert!(new.is_finite() && new > 1.0);
        assert_eq!(psi(&BTreeMap::new(), &e, 1e-4), 0.0);
    }

    #[test]
    fn iso_weeks_and_edit_distance() {
        assert_eq!(iso_week(T0), ("2025-W25".into(), "2025-06-16".into()));
        assert_eq!(iso_week(T0 + WEEK - 1).0, "2025-W25");
        assert_eq!(iso_week(T0 + WEEK).0, "2025-W26");
        assert_eq!(edit_distance("a b c d", "a b c d"), 0.0);
        assert!((edit_distance("a b c d", "a x c d") - 0.25).abs() < 1e-12);
        assert_eq!(edit_distance("", ""), 0.0);
        assert_eq!(edit_distance("a", ""), 1.0);
        let huge = "mot ".repeat(200_000);
        let t = std::time::Instant::now();
        assert_eq!(edit_distance(&huge, &huge), 0.0);
        assert!(t.elapsed().as_secs() < 20);
    }

    #[test]
    fn vocabulary_counts_unseen_words_not_numbers_or_placeholders() {
        let v = Vocabulary::from_texts(["Mon avis d'impôt", "taux de prélèvement"]);
        assert_eq!(v.oov_counts("Avis IMPOT taux"), (0, 3));
        assert_eq!(v.oov_counts("avis 2024 [NOM_1] crypto"), (1, 2));
        let back = Vocabulary::from_words(v.to_lines().lines().map(str::to_string));
        assert_eq!(back, v);
    }

    fn obs(mailbox: i64, at: Millis, label: &str) -> Observation {
        Observation {
            mailbox_id: mailbox,
            at,
            predicted: Some(label.into()),
            confidence: Some(0.9),
            abstained: false,
            oov_tokens: 1,
            tokens: 10,
            draft_shown: true,
            sent_edit_distance: Some(0.1),
            corrected: false,
            opened_at: None,
            validated_at: Some(at),
            model_version: Some("m1".into()),
        }
    }

    #[test]
    fn weekly_report_alerts_on_shift_only_with_enough_volume() {
        let training = dist(&[("a", 1.0), ("b", 1.0)]);
        let mut o = Vec::new();
        for i in 0..40 {
            o.push(obs(1, T0 + i, if i % 2 == 0 { "a" } else { "b" }));
            o.push(obs(1, T0 + WEEK + i, if i % 10 == 0 { "b" } else { "a" }));
            o.push(obs(2, T0 + WEEK + i, if i % 10 == 0 { "b" } else { "a" }));
        }
        let mut th = DriftThresholds::default();
        let r = drift_report(&o, &training, &th);
        assert_eq!(r.weeks.len(), 3);
        assert_eq!(r.weeks[0].psi_level, Level::Ok);
        assert_eq!(r.weeks[1].psi_level, Level::Alert);
        assert_eq!(r.alerts.iter().filter(|a| a.indicator == "psi").count(), 2);
        assert_eq!(r.weeks[0].acceptance_rate, Some(1.0));
        assert!((r.weeks[0].oov_rate.unwrap_or(0.0) - 0.1).abs() < 1e-12);
        assert_eq!(r.weeks[0].confidence_histogram[9], 40);
        th.min_messages = 100;
        assert!(drift_report(&o, &training, &th).alerts.is_empty());
    }

    /// Drafts shown that no agent handled yet are not refusals: no acceptance,
    /// no alert; handled ones count, and from `min_handled_drafts` on they alert.
    #[test]
    fn acceptance_counts_handled_drafts_only() {
        let training = dist(&[("a", 1.0)]);
        let mut o: Vec<Observation> = (0..40)
            .map(|i| {
                let mut x = obs(1, T0 + i, "a");
                x.draft_shown = true;
                x.sent_edit_distance = None;
                x
            })
            .collect();
        let th = DriftThresholds::default();
        let r = drift_report(&o, &training, &th);
        assert_eq!(r.weeks[0].drafts_handled, 0);
        assert_eq!(r.weeks[0].acceptance_rate, None);
        assert!(!r.alerts.iter().any(|a| a.indicator == "acceptance_rate"));
        // 10 handled, all rewritten: a rate, but too few to alert.
        for x in o.iter_mut().take(10) {
            x.sent_edit_distance = Some(0.9);
        }
        let r = drift_report(&o, &training, &th);
        assert_eq!(r.weeks[0].acceptance_rate, Some(0.0));
        assert!(!r.alerts.iter().any(|a| a.indicator == "acceptance_rate"));
        for x in o.iter_mut().take(25) {
            x.sent_edit_distance = Some(0.9);
        }
        let r = drift_report(&o, &training, &th);
        assert!(r.alerts.iter().any(|a| a.indicator == "acceptance_rate"));
    }

    /// A mailbox whose mix is exactly the training mix (30 request types, equal
    /// shares) must not raise PSI alerts at ordinary weekly volumes: with a few
    /// dozen messages many types are absent from a week by chance alone. A real
    /// shift (one type from 3 % to 20 % of the mail) must still alert.
    #[test]
    fn a_stable_mix_does_not_alert_at_small_weekly_volumes_but_a_shift_does() {
        let labels: Vec<String> = (0..30).map(|i| format!("t{i:02}")).collect();
        let training: BTreeMap<String, f64> =
            labels.iter().map(|l| (l.clone(), 1.0 / 30.0)).collect();
        let mut seed = 42u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as f64 / (1u64 << 31) as f64
        };
        let mut o = Vec::new();
        for week in 0..8i64 {
            for i in 0..60i64 {
                let l = &labels[((next() * 30.0) as usize).min(29)];
                o.push(obs(1, T0 + week * WEEK + i, l));
            }
        }
        let r = drift_report(&o, &training, &DriftThresholds::default());
        assert_eq!(r.weeks.len(), 8);
        let psi_alerts: Vec<f64> = r
            .alerts
            .iter()
            .filter(|a| a.indicator == "psi" && a.level == Level::Alert)
            .map(|a| a.value)
            .collect();
        assert!(psi_alerts.is_empty(), "false PSI alerts: {psi_alerts:?}");
        assert!(r.weeks.iter().all(|w| w.psi.is_finite() && w.psi >= 0.0));
        // 200 messages, a fifth of them of one type.
        let mut shifted = Vec::new();
        for i in 0..200i64 {
            let l = if next() < 0.2 {
                &labels[0]
            } else {
                &labels[1 + ((next() * 29.0) as usize).min(28)]
            };
            shifted.push(obs(1, T0 + i, l));
        }
        let r = drift_report(&shifted, &training, &DriftThresholds::default());
        assert_eq!(r.weeks[0].psi_level, Level::Alert, "{:?}", r.weeks[0].psi);
        // No traffic, or one class on both sides: zero, not NaN.
        assert!(drift_report(&[], &training, &DriftThresholds::default())
            .weeks
            .is_empty());
        let one = dist(&[("a", 1.0)]);
        let r = drift_report(
            &(0..40).map(|i| obs(1, T0 + i, "a")).collect::<Vec<_>>(),
            &one,
            &DriftThresholds::default(),
        );
        assert_eq!(r.weeks[0].psi, 0.0);
    }

    #[test]
    fn time_given_back_uses_measured_handling_when_known() {
        let mut a = obs(1, T0, "a");
        a.opened_at = Some(T0);
        a.validated_at = Some(T0 + 2 * 60_000); // 2 minutes: saves 4
        let b = obs(1, T0, "a"); // unmeasured: saves 6 - 1 = 5
        let mut c = obs(1, T0, "a");
        c.sent_edit_distance = Some(0.9); // heavily rewritten: saves nothing
        let w = time_given_back(&[a, b, c], &TimeConfig::default());
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].replies_from_drafts, 2);
        assert_eq!(w[0].measured, 1);
        assert_eq!(w[0].median_handling_minutes, Some(2.0));
        assert!((w[0].hours_given_back - 9.0 / 60.0).abs() < 1e-12);
    }
}
