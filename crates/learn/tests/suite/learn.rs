//! Integration tests of facteur-learn on the shared demo data: drift over a
//! simulated 12-week campaign, and the full loop (base model → agents' corrections
//! in a real SQLite store → retrained candidate → promotion, rollback, review,
//! transparency).
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use facteur_classify::{read_jsonl, Example, Model, TrainConfig};
use facteur_core::{ModelStatus, Prediction, RejectReason, Role, Route};
use facteur_learn::collect::{collect_feedback, collect_observations};
use facteur_learn::registry::{self, RegistryConfig, TrainRequest};
use facteur_learn::transparency::Volumes;
use facteur_learn::*;
use facteur_store::{
    ManualClock, NewMailbox, NewMessage, NewTriage, NewUser, Store, ValidateReply,
};

const T0: i64 = 1_750_032_000_000; // Monday 2025-06-16 00:00 UTC
const HOUR: i64 = 3_600_000;
const WEEK: i64 = 7 * 24 * HOUR;

fn demo(name: &str) -> Vec<Example> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../answers/demo")
        .join(name);
    read_jsonl(&p).expect("demo data")
}

/// Fixed-seed generator: the tests must give the same figures on every run.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn cfg() -> TrainConfig {
    TrainConfig {
        threads: 2,
        seed: 7,
        ..Default::default()
    }
}

fn shares(ex: &[Example]) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    for e in ex {
        *m.entry(e.label.clone()).or_insert(0.0) += 1.0 / ex.len() as f64;
    }
    m
}

#[test]
fn drift_alerts_after_the_mix_shifts_and_not_before() {
    let train = demo("examples.jsonl");
    let model = facteur_classify::train(&train, &cfg(), &mut |_| {}).expect("train");
    let vocab = Vocabulary::from_texts(train.iter().map(|e| e.text.as_str()));
    let mut pool: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in demo("eval.jsonl").into_iter().chain(train.iter().cloned()) {
        pool.entry(e.label).or_default().push(e.text);
    }
    let labels: Vec<String> = pool.keys().cloned().collect();
    // Campaign season from week 7: a third of the mail is about the declaration.
    let campaign = [
        "date-limite-declaration",
        "premiere-declaration",
        "avis-imposition",
    ];
    let mut rng = Lcg(2024);
    let mut obs = Vec::new();
    let meter = ComputeMeter::new();
    for week in 0..12i64 {
        for (mailbox, volume, shifts) in [(1i64, 1000usize, true), (2, 600, false)] {
            for i in 0..volume {
                let label = if shifts && week >= 6 && rng.below(100) < 33 {
                    campaign[rng.below(3)].to_string()
                } else {
                    labels[rng.below(labels.len())].clone()
                };
                let texts = &pool[&label];
                let text = &texts[rng.below(texts.len())];
                let p: Prediction = meter.measure(1, || model.predict(text));
                let at = T0 + week * WEEK + (i as i64 * WEEK) / volume as i64;
                let mut o = Observation::predicted(mailbox, at, &p);
                (o.oov_tokens, o.tokens) = vocab.oov_counts(text);
                obs.push(o);
            }
        }
    }
    let report = drift_report(&obs, &shares(&train), &DriftThresholds::default());
    let mb1: Vec<&WeekIndicators> = report.weeks.iter().filter(|w| w.mailbox_id == 1).collect();
    let mb2: Vec<&WeekIndicators> = report.weeks.iter().filter(|w| w.mailbox_id == 2).collect();
    assert_eq!((mb1.len(), mb2.len()), (12, 12));
    let psi1: Vec<f64> = mb1.iter().map(|w| w.psi).collect();
    let psi2: Vec<f64> = mb2.iter().map(|w| w.psi).collect();
    eprintln!("PSI mailbox 1 (shift after week 6): {psi1:.3?}");
    eprintln!("PSI mailbox 2 (stable): {psi2:.3?}");
    for (i, w) in mb1.iter().enumerate() {
        if i < 6 {
            assert!(
                w.psi < 0.2 && w.psi_level != Level::Alert,
                "week {} {}",
                i + 1,
                w.psi
            );
        } else {
            assert!(
                w.psi > 0.2 && w.psi_level == Level::Alert,
                "week {} {}",
                i + 1,
                w.psi
            );
        }
    }
    assert!(mb2.iter().all(|w| w.psi_level != Level::Alert), "{psi2:?}");
    let psi_alert_weeks: HashSet<&str> = report
        .alerts
        .iter()
        .filter(|a| a.indicator == "psi" && a.level == Level::Alert)
        .map(|a| a.week.as_str())
        .collect();
    assert_eq!(psi_alert_weeks.len(), 6);
    // Twelve weeks per mailbox (the dashboard draws one point per week).
    assert_eq!((mb1.len(), mb2.len()), (12, 12));
    assert!(mb1.iter().all(|w| w.oov_rate.is_some_and(|r| r < 0.35)));
    let cost = meter.snapshot();
    assert_eq!(cost.messages_measured, 19_200);
    eprintln!(
        "classification CPU cost: {:?} s per 1,000 messages (debug build)",
        cost.cpu_seconds_per_1000_messages
    );
}

struct Env {
    store: Store,
    clock: Arc<ManualClock>,
    data: tempfile::TempDir,
    sup: i64,
    agent: i64,
    mailbox: i64,
}

async fn env() -> Env {
    let data = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", data.path().join("facteur.db").display());
    let clock = Arc::new(ManualClock::new(T0));
    let store = Store::open(&url)
        .await
        .expect("open")
        .with_clock(clock.clone());
    let mk = |u: &str, role| NewUser {
        username: u.into(),
        display_name: format!("Display {u}"),
        password_hash: "x".into(),
        role,
    };
    let sup = store
        .create_user(&mk("sylvie", Role::Supervisor), None)
        .await
        .expect("sup");
    let agent = store
        .create_user(&mk("arnaud", Role::Agent), None)
        .await
        .expect("agent");
    let mailbox = store
        .create_mailbox(
            &NewMailbox {
                name: "sip-test".into(),
                address: "sip@example.test".into(),
                signature: "Le service".into(),
                settings: serde_json::json!({}),
            },
            None,
        )
        .await
        .expect("mailbox");
    store
        .set_mailbox_access(agent, mailbox, true, None)
        .await
        .expect("access");
    Env {
        store,
        clock,
        data,
        sup,
        agent,
        mailbox,
    }
}

fn req<'a>(
    base: &'a [Example],
    feedback: &'a [Example],
    eval: &'a [Example],
    by: i64,
) -> TrainRequest<'a> {
    TrainRequest {
        embeddings: None,
        base,
        feedback,
        eval_set: eval,
        calibration: &[],
        trained_by: Some(by),
        note: None,
    }
}

fn same_predictions(a: &Model, b: &Model, texts: &[&str]) -> bool {
    texts.iter().all(|t| a.predict(t) == b.predict(t))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_loop_from_corrections_to_a_better_model() {
    let e = env().await;
    let (store, dir) = (&e.store, e.data.path());
    let rcfg = RegistryConfig {
        review_period_days: 90,
        train: cfg(),
    };
    let all = demo("examples.jsonl");
    let eval = demo("eval.jsonl");

    // Base model: 3 examples per class, the rest of the demo texts arrive as mail.
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    let (mut base, mut traffic) = (Vec::new(), Vec::new());
    for ex in &all {
        let n = per.entry(ex.label.clone()).or_default();
        *n += 1;
        if *n <= 3 {
            base.push(ex.clone())
        } else {
            traffic.push(ex.clone())
        }
    }
    let b = registry::train_candidate(store, dir, &rcfg, req(&base, &[], &eval, e.sup))
        .await
        .expect("train base");
    let base_v = b.candidate.version.clone();
    assert_eq!(b.candidate.status, ModelStatus::Candidate);
    assert!(b.comparison.is_none());
    assert!(b.candidate.dir.join("vocab.txt").exists());

    // Promotion needs a named supervisor.
    let refused = registry::promote(store, dir, &rcfg, &base_v, None).await;
    assert!(
        matches!(refused, Err(LearnError::NoSupervisor { .. })),
        "{refused:?}"
    );
    let refused = registry::promote(store, dir, &rcfg, &base_v, Some(e.agent)).await;
    assert!(
        matches!(refused, Err(LearnError::NotSupervisor { .. })),
        "{refused:?}"
    );
    assert!(store.active_model().await.expect("active").is_none());
    let r = registry::promote(store, dir, &rcfg, &base_v, Some(e.sup))
        .await
        .expect("promote");
    assert_eq!(r.promoted_by, e.sup);
    assert_eq!(r.review.as_ref().map(|s| s.days_left), Some(90));

    // Eight weeks of traffic triaged by the base model; agents validate or correct.
    let (active_v, base_model) = registry::active(store, dir)
        .await
        .expect("load")
        .expect("some");
    assert_eq!(active_v, base_v);
    let mut corrected = 0;
    let mut rejected_wrong_type = 0;
    for (i, ex) in traffic.iter().enumerate() {
        e.clock
            .set(T0 + (i as i64 * 8 * WEEK) / traffic.len() as i64);
        let mut m = NewMessage {
            mailbox_id: e.mailbox,
            message_id: format!("m{i}@example.test"),
            content_hash: format!("{i:064}"),
            raw: ex.text.as_bytes().to_vec(),
            subject: "Question".into(),
            pseudonymised_text: ex.text.clone(),
            ..Default::default()
        };
        m.received_at = Some(e.clock.now_ms_public());
        let id = store.insert_message(&m).await.expect("insert").id();
        let p = base_model.predict(&ex.text);
        let top = p.top.first().map(|s| s.label.clone());
        store
            .record_triage(&NewTriage {
                message_id: id,
                model_version: Some(base_v.clone()),
                category: top.clone(),
                confidence: Some(p.confidence),
                route: if p.abstained {
                    Route::Abstain
                } else {
                    Route::ReadyToValidate
                },
                answer_id: top.clone(),
                answer_version: Some(1),
                draft_text: Some(format!(
                    "Bonjour,\nréponse type {}.\nCordialement",
                    top.clone().unwrap_or_default()
                )),
                passages: Vec::new(),
                language: Some("fr".into()),
                pseudonymised_text: None,
                subject_pseudonymised: None,
                classify_text: None,
                pii_kinds: vec![],
                flags: vec![],
                candidates: Vec::new(),
                close_suggestion: None,
                citizen_ids: Vec::new(),
                attachment_texts: Vec::new(),
            })
            .await
            .expect("triage");
        e.clock.set(e.clock.now_ms_public() + HOUR);
        if top.as_deref() != Some(ex.label.as_str()) {
            if i % 4 == 0 {
                store
                    .reject_draft(id, e.agent, RejectReason::WrongType)
                    .await
                    .expect("reject");
                rejected_wrong_type += 1;
            }
            store
                .correct_category(id, e.agent, &ex.label)
                .await
                .expect("correct");
            corrected += 1;
        }
        if i % 4 != 0 || top.as_deref() == Some(ex.label.as_str()) {
            let body = if i % 3 == 0 {
                format!(
                    "Bonjour,\nréponse type {} modifiée.\nCordialement",
                    ex.label
                )
            } else {
                format!(
                    "Bonjour,\nréponse type {}.\nCordialement",
                    top.clone().unwrap_or_default()
                )
            };
            store
                .validate_and_queue(&ValidateReply {
                    message_id: id,
                    user_id: e.agent,
                    body,
                    reply_message_id: format!("<r{i}@example.test>"),
                    to_address: "usager@example.test".into(),
                    subject: "Re: Question".into(),
                    in_reply_to: None,
                    references: vec![],
                    send_delay_ms: 0,
                })
                .await
                .expect("validate");
        }
    }
    eprintln!(
        "traffic {} messages, {corrected} corrected, {rejected_wrong_type} rejected as wrong type",
        traffic.len()
    );
    assert!(corrected > 50, "{corrected}");

    // Feedback as data, with provenance, pseudonymised text and exclusions.
    let fb = collect_feedback(store).await.expect("feedback");
    let one = fb
        .iter()
        .find(|x| {
            matches!(x.evidence, Evidence::Is(_))
                && x.provenance.suggested.as_deref()
                    != match &x.evidence {
                        Evidence::Is(l) => Some(l.as_str()),
                        _ => None,
                    }
        })
        .expect("a correction");
    assert_eq!(
        one.provenance.model_version.as_deref(),
        Some(base_v.as_str())
    );
    assert_eq!(one.provenance.user_id, e.agent);
    assert!(fb.iter().any(|x| matches!(x.evidence, Evidence::IsNot(_))));
    let exclusions = StoreExclusions::with_data_dir(store.clone(), dir);
    exclusions
        .exclude(one.id, e.sup, "test exclusion")
        .await
        .expect("exclude");
    let excluded = exclusions.excluded().await.expect("read");
    let training = training_examples(&fb, &excluded);
    let with_ex = training_examples(&fb, &HashSet::new());
    assert_eq!(with_ex.len(), traffic.len());
    // The excluded correction's message still has its later validation, same label.
    assert!(training.len() >= with_ex.len() - 1);
    for t in &training {
        let truth = traffic
            .iter()
            .find(|x| x.text == t.text)
            .expect("known text");
        assert_eq!(
            t.label, truth.label,
            "feedback label must be the agents' label"
        );
    }

    // Retrain from base + feedback and compare on the fixed set.
    e.clock.set(T0 + 8 * WEEK + HOUR);
    let c = registry::train_candidate(store, dir, &rcfg, req(&base, &training, &eval, e.sup))
        .await
        .expect("train candidate");
    let cand_v = c.candidate.version.clone();
    let cmp = c.comparison.expect("comparison with active");
    let base_f1 = b
        .candidate
        .record
        .as_ref()
        .map(|r| r.eval.macro_f1)
        .unwrap_or(1.0);
    let cand_f1 = c
        .candidate
        .record
        .as_ref()
        .map(|r| r.eval.macro_f1)
        .unwrap_or(0.0);
    eprintln!(
        "fixed eval set ({} ex.): base macro-F1 {base_f1:.3} ({} train ex.) -> candidate {cand_f1:.3} ({} train ex., {} from feedback); regressions {:?}",
        eval.len(),
        b.candidate.record.as_ref().map_or(0, |r| r.training_examples),
        c.candidate.record.as_ref().map_or(0, |r| r.training_examples),
        c.candidate.record.as_ref().map_or(0, |r| r.feedback_examples),
        cmp.regressions
    );
    assert!(cmp.same_eval_set);
    assert!(cand_f1 > base_f1 + 0.05, "{base_f1} -> {cand_f1}");
    assert!((cmp.macro_f1_delta - (cand_f1 - base_f1)).abs() < 1e-12);
    let re = registry::evaluate_version(dir, &cand_v, &eval, None)
        .await
        .expect("re-eval");
    assert!(
        (re.macro_f1 - cand_f1).abs() < 1e-12,
        "{} vs {cand_f1}",
        re.macro_f1
    );

    // Promote the candidate, then roll back: the base model's predictions return exactly.
    let probe: Vec<&str> = eval.iter().map(|x| x.text.as_str()).collect();
    let p = registry::promote(store, dir, &rcfg, &cand_v, Some(e.sup))
        .await
        .expect("promote cand");
    assert_eq!(p.previous.as_deref(), Some(base_v.as_str()));
    let (_, cand_model) = registry::active(store, dir)
        .await
        .expect("load")
        .expect("some");
    assert!(!same_predictions(&cand_model, &base_model, &probe));
    assert!(matches!(
        registry::rollback(store, dir, &rcfg, None).await,
        Err(LearnError::NoSupervisor { .. })
    ));
    let rb = registry::rollback(store, dir, &rcfg, Some(e.sup))
        .await
        .expect("rollback");
    assert!(rb.rollback);
    assert_eq!(rb.version, base_v);
    let (v, restored) = registry::active(store, dir)
        .await
        .expect("load")
        .expect("some");
    assert_eq!(v, base_v);
    assert!(same_predictions(&restored, &base_model, &probe));
    let versions = registry::list(store, dir, &rcfg).await.expect("list");
    assert_eq!(versions.len(), 2);
    assert_eq!(
        versions
            .iter()
            .find(|x| x.version == cand_v)
            .map(|x| x.status),
        Some(ModelStatus::Retired)
    );

    // Review schedule: 91 days after the (rollback) promotion the model is overdue.
    e.clock.advance(Duration::from_secs(91 * 24 * 3600));
    let active = registry::get_version(store, dir, &rcfg, &base_v)
        .await
        .expect("get");
    let rs = active.review.clone().expect("review status");
    assert!(rs.overdue && rs.days_left < 0, "{rs:?}");
    assert!(!suggestions_enabled(
        e.mailbox,
        Some("deces"),
        &[],
        Some(&rs),
        true
    ));
    assert!(suggestions_enabled(
        e.mailbox,
        Some("deces"),
        &[],
        Some(&rs),
        false
    ));
    assert!(registry::record_review(
        store,
        &base_v,
        Some(e.agent),
        ReviewDecision::Keep,
        serde_json::json!({}),
        None
    )
    .await
    .is_err());
    registry::record_review(
        store,
        &base_v,
        Some(e.sup),
        ReviewDecision::Retrain,
        serde_json::to_value(&active.record).unwrap_or_default(),
        Some("nouvelle version à promouvoir".into()),
    )
    .await
    .expect("review");
    let after = registry::get_version(store, dir, &rcfg, &base_v)
        .await
        .expect("get");
    let rs2 = after.review.clone().expect("review status");
    assert!(!rs2.overdue && rs2.days_left == 90, "{rs2:?}");
    assert_eq!(
        after.last_review.as_ref().map(|r| r.reviewed_by),
        Some(e.sup)
    );
    assert!(suggestions_enabled(
        e.mailbox,
        Some("deces"),
        &[],
        Some(&rs2),
        true
    ));

    // Drift and time given back from the store.
    let vocab = registry::load_vocabulary(dir, &base_v).expect("vocab");
    let obs = collect_observations(store, Some(&vocab), None)
        .await
        .expect("observations");
    assert_eq!(obs.len(), traffic.len());
    let training_dist = after
        .record
        .as_ref()
        .map(|r| r.training_distribution.clone())
        .unwrap_or_default();
    let rep = drift_report(&obs, &training_dist, &DriftThresholds::default());
    assert_eq!(
        rep.weeks.iter().map(|w| w.messages).sum::<usize>(),
        traffic.len()
    );
    let w0 = &rep.weeks[0];
    let acc = w0.acceptance_rate.expect("drafts shown");
    assert!(acc > 0.0 && acc < 1.0, "{acc}");
    assert!(w0.correction_rate > 0.0 && w0.oov_rate.is_some());
    let time = time_given_back(&obs, &TimeConfig::default());
    let hours: f64 = time.iter().map(|w| w.hours_given_back).sum();
    eprintln!("week 1: acceptance {acc:.2}, corrections {:.2}, mean edit {:?}; {hours:.1} h given back over {} weeks", w0.correction_rate, w0.mean_edit_distance, time.len());
    assert!(hours > 0.0);

    // Transparency sheet: dates, metrics, no personal data.
    let sheet = transparency(TransparencyInput {
        now: store.now_ms(),
        service: "SIP de démonstration",
        contact: "transparence@example.test",
        versions: &registry::list(store, dir, &rcfg).await.expect("list"),
        review_period_days: 90,
        volumes: Volumes {
            messages_handled: store.count_messages(None).await.expect("count"),
            drafts_sent_from_suggestions: None,
        },
        compute: ComputeMeter::new().snapshot(),
    });
    assert_eq!(
        sheet.active_model.as_ref().map(|m| m.version.as_str()),
        Some(base_v.as_str())
    );
    assert_eq!(sheet.model_history.len(), 2);
    assert!(sheet.metrics.is_some());
    let json = serde_json::to_string(&sheet).expect("json");
    for personal in ["sylvie", "arnaud", "Display", "usager@example.test"] {
        assert!(!json.contains(personal), "{personal} leaked");
    }
}

trait NowPublic {
    fn now_ms_public(&self) -> i64;
}
impl NowPublic for ManualClock {
    fn now_ms_public(&self) -> i64 {
        facteur_store::Clock::now_ms(self)
    }
}
