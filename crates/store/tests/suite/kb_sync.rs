//! The knowledge-base revision (what every node's index follows) and the purge of
//! finished jobs. Every test runs on a fresh SQLite file, and also on a fresh
//! PostgreSQL database when FACTEUR_TEST_PG_URL is set (e.g.
//! `postgres://postgres@127.0.0.1:15432/postgres`).
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use facteur_testkit::db;

use std::time::Duration;

use facteur_core::AnswerStatus;
use facteur_store::{Backend, JobState, NewAnswerVersion, Store};
use serde_json::json;

const T0: i64 = 1_760_000_000_000;
const DAY: Duration = Duration::from_secs(24 * 3600);

fn answer(id: &str, content: &str) -> NewAnswerVersion {
    NewAnswerVersion {
        answer_id: id.into(),
        title: format!("Titre {id}"),
        language: "fr".into(),
        content: content.into(),
        valid_from: Some("2024-01-01".into()),
        valid_until: Some("2030-12-31".into()),
        author_id: None,
    }
}

#[tokio::test]
async fn revision_bumps_on_every_answer_change_and_never_on_reads() {
    for db in db::backends("facteur_kbsync", T0).await {
        let s = &db.store;
        let b = s.backend();
        let r0 = s.kb_revision().await.unwrap();
        assert_eq!(r0, 0, "{b:?}: a fresh store starts at revision 0");
        assert_eq!(s.count_answer_versions().await.unwrap(), 0);

        let v1 = s
            .create_answer_version(&answer("delais", "v1"))
            .await
            .unwrap();
        let r1 = s.kb_revision().await.unwrap();
        assert_eq!(r1, r0 + 1, "{b:?}: creating a version bumps");

        // Reads of every kind leave it alone.
        s.get_answer_version("delais", v1).await.unwrap();
        s.list_answers().await.unwrap();
        s.list_answer_versions("delais").await.unwrap();
        s.validated_answers().await.unwrap();
        s.count_answer_versions().await.unwrap();
        assert_eq!(
            s.kb_revision().await.unwrap(),
            r1,
            "{b:?}: reads never bump"
        );

        // A refused change (no such version) rolls back and does not bump.
        s.set_answer_status("delais", 99, AnswerStatus::Validated, 1)
            .await
            .unwrap_err();
        assert_eq!(s.kb_revision().await.unwrap(), r1, "{b:?}");
        let sup = 1;
        s.set_answer_status("delais", v1, AnswerStatus::Validated, sup)
            .await
            .unwrap();
        let r2 = s.kb_revision().await.unwrap();
        assert_eq!(r2, r1 + 1, "{b:?}: validating bumps");

        // Import from files: idempotent on content.
        let imp = s
            .record_imported_answer(&answer("delais", "v2 du fichier"), AnswerStatus::Validated)
            .await
            .unwrap();
        assert_eq!(imp, Some(2), "{b:?}");
        let r3 = s.kb_revision().await.unwrap();
        assert_eq!(r3, r2 + 1, "{b:?}: an import that changes content bumps");
        let again = s
            .record_imported_answer(&answer("delais", "v2 du fichier"), AnswerStatus::Validated)
            .await
            .unwrap();
        assert_eq!(again, None, "{b:?}: re-import creates no version");
        // An older content the store already knows is not re-imported either.
        let old = s
            .record_imported_answer(&answer("delais", "v1"), AnswerStatus::Validated)
            .await
            .unwrap();
        assert_eq!(old, None, "{b:?}");
        assert_eq!(
            s.kb_revision().await.unwrap(),
            r3,
            "{b:?}: no-op imports never bump"
        );
        let valid = s.validated_answers().await.unwrap();
        assert_eq!(valid.len(), 1, "{b:?}");
        assert_eq!(
            (valid[0].version, valid[0].content.as_str()),
            (2, "v2 du fichier")
        );
        let versions = s.list_answer_versions("delais").await.unwrap();
        assert_eq!(
            versions[0].status,
            AnswerStatus::Retired,
            "{b:?}: v1 retired"
        );

        // A retired file retires the validated version.
        s.record_imported_answer(&answer("delais", "v3 retirée"), AnswerStatus::Retired)
            .await
            .unwrap();
        assert!(s.validated_answers().await.unwrap().is_empty(), "{b:?}");
        assert_eq!(s.kb_revision().await.unwrap(), r3 + 1, "{b:?}");
        assert_eq!(s.count_answer_versions().await.unwrap(), 3, "{b:?}");
        // Every change is in the audit chain, which still verifies.
        assert!(s.verify_audit().await.unwrap().ok, "{b:?}");
        s.close().await;
    }
}

#[tokio::test]
async fn postgres_notifies_listeners_at_commit() {
    let Ok(admin) = std::env::var("FACTEUR_TEST_PG_URL") else {
        eprintln!("SKIPPED: FACTEUR_TEST_PG_URL unset");
        return;
    };
    let sqlite = db::sqlite(T0).await;
    assert!(sqlite.store.kb_listener().await.unwrap().is_none());

    let db = db::postgres(&admin, "facteur_kbsync", T0).await;
    assert_eq!(db.store.backend(), Backend::Postgres);
    let mut listener = db.store.kb_listener().await.unwrap().expect("pg listener");
    // Another process (another pool on the same database) changes an answer.
    let other = Store::open(&db.url).await.unwrap();
    other
        .create_answer_version(&answer("dons", "texte"))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("notified within 5 s")
        .unwrap();
    assert_eq!(got, Some(other.kb_revision().await.unwrap()));
    // A read sends nothing.
    other.validated_answers().await.unwrap();
    other.kb_revision().await.unwrap();
    let none = tokio::time::timeout(Duration::from_millis(500), listener.recv()).await;
    assert!(none.is_err(), "a read must not notify: {none:?}");
    other.close().await;
    db.store.close().await;
}

#[tokio::test]
async fn purge_deletes_only_finished_jobs_older_than_the_cutoff() {
    for db in db::backends("facteur_kbsync", T0).await {
        let s = &db.store;
        let b = s.backend();
        let lease = Duration::from_secs(30 * 24 * 3600);
        let done_old = s.enqueue_job("triage", "1", &json!({})).await.unwrap().id();
        let failed_old = s.enqueue_job("triage", "2", &json!({})).await.unwrap().id();
        let queued_old = s.enqueue_job("other", "3", &json!({})).await.unwrap().id();
        let running_old = s.enqueue_job("long", "4", &json!({})).await.unwrap().id();
        let j = s.claim_job(&["triage"], "w", lease).await.unwrap().unwrap();
        assert_eq!(j.id, done_old);
        s.complete_job(j.id, "w").await.unwrap();
        let j = s.claim_job(&["triage"], "w", lease).await.unwrap().unwrap();
        assert_eq!(j.id, failed_old);
        s.fail_job(j.id, "w", None, "no such message")
            .await
            .unwrap();
        let j = s.claim_job(&["long"], "w", lease).await.unwrap().unwrap();
        assert_eq!(j.id, running_old);

        db.clock.advance(8 * DAY);
        let done_recent = s.enqueue_job("triage", "5", &json!({})).await.unwrap().id();
        let j = s.claim_job(&["triage"], "w", lease).await.unwrap().unwrap();
        assert_eq!(j.id, done_recent);
        s.complete_job(j.id, "w").await.unwrap();

        let audit_before = s.verify_audit().await.unwrap().rows;
        assert_eq!(s.purge_finished_jobs(7 * DAY).await.unwrap(), 2, "{b:?}");
        assert!(s.get_job(done_old).await.unwrap().is_none(), "{b:?}");
        assert!(s.get_job(failed_old).await.unwrap().is_none(), "{b:?}");
        assert_eq!(
            s.get_job(queued_old).await.unwrap().unwrap().state,
            JobState::Queued,
            "{b:?}: a queued job stays whatever its age"
        );
        assert_eq!(
            s.get_job(running_old).await.unwrap().unwrap().state,
            JobState::Running,
            "{b:?}: a running job stays whatever its age"
        );
        assert_eq!(
            s.get_job(done_recent).await.unwrap().unwrap().state,
            JobState::Done,
            "{b:?}: a job finished within the retention stays"
        );
        let audit = s.verify_audit().await.unwrap();
        assert!(audit.ok, "{b:?}");
        assert_eq!(audit.rows, audit_before + 1, "{b:?}: the purge is audited");
        // Nothing left to purge: no delete, no audit row.
        assert_eq!(s.purge_finished_jobs(7 * DAY).await.unwrap(), 0, "{b:?}");
        assert_eq!(s.verify_audit().await.unwrap().rows, audit_before + 1);
        // A purged (kind, key) may be enqueued again.
        assert!(matches!(
            s.enqueue_job("triage", "1", &json!({})).await.unwrap(),
            facteur_store::InsertOutcome::Inserted(_)
        ));
        s.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_answer_edits_from_several_nodes_get_distinct_versions() {
    for db in db::backends("facteur_kbsync", T0).await {
        let b = db.store.backend();
        // Eight nodes (their own pools) save the same answer at the same moment.
        let mut nodes = Vec::new();
        for _ in 0..8 {
            nodes.push(Store::open(&db.url).await.unwrap());
        }
        let mut saves = tokio::task::JoinSet::new();
        for (i, s) in nodes.iter().enumerate() {
            let s = s.clone();
            saves.spawn(async move {
                s.create_answer_version(&answer("delais", &format!("texte {i}")))
                    .await
            });
        }
        let mut versions: Vec<i64> = saves
            .join_all()
            .await
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{b:?}: concurrent save failed: {e}")))
            .collect();
        versions.sort_unstable();
        assert_eq!(versions, (1..=8).collect::<Vec<i64>>(), "{b:?}");
        assert_eq!(db.store.kb_revision().await.unwrap(), 8, "{b:?}");

        // Two supervisors validate two different versions at once: one stays
        // validated, never both.
        let (x, y) = tokio::join!(
            nodes[0].set_answer_status("delais", 3, AnswerStatus::Validated, 1),
            nodes[1].set_answer_status("delais", 5, AnswerStatus::Validated, 2),
        );
        x.unwrap();
        y.unwrap();
        let valid = db.store.validated_answers().await.unwrap();
        assert_eq!(valid.len(), 1, "{b:?}: {valid:?}");
        assert!([3, 5].contains(&valid[0].version), "{b:?}");

        // The same file imported by two nodes at once is recorded once.
        let file = answer("dons", "fichier");
        let (x, y) = tokio::join!(
            nodes[2].record_imported_answer(&file, AnswerStatus::Validated),
            nodes[3].record_imported_answer(&file, AnswerStatus::Validated),
        );
        let created = [x.unwrap(), y.unwrap()];
        assert_eq!(
            created.iter().filter(|v| v.is_some()).count(),
            1,
            "{b:?}: {created:?}"
        );
        assert_eq!(
            db.store.list_answer_versions("dons").await.unwrap().len(),
            1
        );
    }
}

#[tokio::test]
async fn the_answers_snapshot_pairs_the_revision_with_its_answers() {
    for db in db::backends("facteur_kbsync", T0).await {
        let s = &db.store;
        let b = s.backend();
        assert_eq!(
            s.validated_answers_snapshot().await.unwrap(),
            (0, 0, vec![]),
            "{b:?}"
        );
        let v = s
            .create_answer_version(&answer("delais", "v1"))
            .await
            .unwrap();
        s.set_answer_status("delais", v, AnswerStatus::Validated, 1)
            .await
            .unwrap();
        s.create_answer_version(&answer("delais", "v2 brouillon"))
            .await
            .unwrap();
        let (rev, count, valid) = s.validated_answers_snapshot().await.unwrap();
        assert_eq!(rev, s.kb_revision().await.unwrap(), "{b:?}");
        assert_eq!(count, 2, "{b:?}");
        assert_eq!(valid, s.validated_answers().await.unwrap(), "{b:?}");
        assert_eq!(valid.len(), 1);
        assert_eq!(valid[0].content, "v1");
    }
}
