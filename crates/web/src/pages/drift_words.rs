//! A week's drift indicators in sentences a supervisor reads without a
//! statistics course: what each one means this week, and what to do. The
//! numbers and their technical names (PSI, rates, thresholds) stay in the page's
//! "détails techniques" fold. The rules are learn's own alert rules, with the
//! same thresholds, so a sentence never contradicts an alert.

use facteur_learn::drift::{DriftThresholds, Level, WeekIndicators};

use crate::i18n::{fill, percent, Lang, Msg};

/// What the page says about one week of one mailbox.
pub struct Verdict {
    /// `Some(true)`: something to do; `Some(false)`: nothing; `None`: too few
    /// messages to judge.
    pub needs_action: Option<bool>,
    /// One sentence per indicator, the ones that call for action first.
    pub sentences: Vec<(bool, String)>,
}

impl Verdict {
    /// The headline: whether this week needs action.
    pub fn headline(&self, lang: Lang) -> &'static str {
        match self.needs_action {
            Some(true) => Msg::SupWeekNeedsAction.text(lang),
            Some(false) => Msg::SupWeekNoAction.text(lang),
            None => Msg::SupWeekNotJudged.text(lang),
        }
    }
}

/// The verdict on week `w` under thresholds `th`.
pub fn verdict(lang: Lang, w: &WeekIndicators, th: &DriftThresholds) -> Verdict {
    if w.messages < th.min_messages {
        let (n, min) = (w.messages.to_string(), th.min_messages.to_string());
        return Verdict {
            needs_action: None,
            sentences: vec![(false, fill(lang, Msg::SupNotEnoughData, &[&n, &min]))],
        };
    }
    let mut s: Vec<(bool, String)> = Vec::new();
    s.push(match w.psi_level {
        Level::Alert => (true, Msg::SupMixAlert.text(lang).to_string()),
        Level::Warn => (false, Msg::SupMixWarn.text(lang).to_string()),
        Level::Ok => (false, Msg::SupMixOk.text(lang).to_string()),
    });
    let p = |v: f64| percent(lang, v);
    s.push(if w.abstain_rate > th.abstain_alert {
        let (v, t) = (p(w.abstain_rate), p(th.abstain_alert));
        (true, fill(lang, Msg::SupAbstainAlert, &[&v, &t]))
    } else {
        (
            false,
            fill(lang, Msg::SupAbstainOk, &[&p(1.0 - w.abstain_rate)]),
        )
    });
    if let Some(r) = w.oov_rate {
        s.push(if r > th.oov_alert {
            let (v, t) = (p(r), p(th.oov_alert));
            (true, fill(lang, Msg::SupOovAlert, &[&v, &t]))
        } else {
            (false, Msg::SupOovOk.text(lang).to_string())
        });
    }
    match w.acceptance_rate {
        Some(a) if w.drafts_handled >= th.min_handled_drafts => {
            s.push(if a < th.acceptance_alert_below {
                let (v, t) = (p(a), p(th.acceptance_alert_below));
                (true, fill(lang, Msg::SupAcceptAlert, &[&v, &t]))
            } else {
                (false, fill(lang, Msg::SupAcceptOk, &[&p(a)]))
            })
        }
        _ if w.drafts_shown > 0 => {
            let (h, min) = (
                w.drafts_handled.to_string(),
                th.min_handled_drafts.to_string(),
            );
            s.push((false, fill(lang, Msg::SupAcceptNotEnough, &[&h, &min])));
        }
        _ => {}
    }
    // What to act on first.
    s.sort_by_key(|(act, _)| !act);
    Verdict {
        needs_action: Some(s.iter().any(|(act, _)| *act)),
        sentences: s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week() -> WeekIndicators {
        WeekIndicators {
            mailbox_id: 1,
            week: "2026-W49".into(),
            week_start: "2026-11-30".into(),
            messages: 120,
            psi: 0.05,
            psi_level: Level::Ok,
            predicted_distribution: Default::default(),
            mean_confidence: Some(0.8),
            confidence_histogram: [0; 10],
            abstain_rate: 0.2,
            oov_rate: Some(0.1),
            drafts_shown: 80,
            drafts_handled: 60,
            acceptance_rate: Some(0.8),
            mean_edit_distance: None,
            correction_rate: 0.05,
        }
    }

    #[test]
    fn a_quiet_week_needs_nothing_and_says_so_in_plain_words() {
        let th = DriftThresholds::default();
        let v = verdict(Lang::Fr, &week(), &th);
        assert_eq!(v.needs_action, Some(false));
        assert_eq!(v.headline(Lang::Fr), "Rien à faire cette semaine.");
        let all: String = v.sentences.iter().map(|(_, s)| s.as_str()).collect();
        assert!(all.contains("80 %"), "{all}");
        assert!(!all.contains("PSI") && !all.contains("0.8"), "{all}");
    }

    #[test]
    fn a_shift_needs_action_and_comes_first() {
        let th = DriftThresholds::default();
        let mut w = week();
        w.psi_level = Level::Alert;
        w.abstain_rate = 0.6;
        let v = verdict(Lang::Fr, &w, &th);
        assert_eq!(v.needs_action, Some(true));
        assert!(v.sentences[0].0 && v.sentences[1].0);
        assert!(v.sentences[0].1.contains("a changé nettement"));
        assert!(v.sentences[1].1.contains("60 %"), "{}", v.sentences[1].1);
    }

    #[test]
    fn too_few_messages_or_handled_drafts_are_not_judged() {
        let th = DriftThresholds::default();
        let mut w = week();
        w.messages = 12;
        let v = verdict(Lang::En, &w, &th);
        assert_eq!(v.needs_action, None);
        assert!(v.sentences[0].1.starts_with("Not enough data yet"));
        // Drafts shown but hardly handled: no acceptance verdict, no action.
        let mut w = week();
        w.drafts_handled = 3;
        w.acceptance_rate = Some(0.0);
        let v = verdict(Lang::Fr, &w, &th);
        assert_eq!(v.needs_action, Some(false));
        assert!(v.sentences.iter().any(|(_, s)| s
            .contains("pas encore assez de brouillons traités")
            || s.contains("Pas encore assez de brouillons traités")));
    }
}
