//! Kill switches and training exclusions in the database, so every node obeys
//! them. Every test runs on a fresh SQLite file, and also on a fresh PostgreSQL
//! database when FACTEUR_TEST_PG_URL is set (e.g.
//! `postgres://postgres@127.0.0.1:15432/postgres`).
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use facteur_testkit::db;

use std::time::Duration;

use facteur_store::{Store, StoredExclusion, StoredSwitch};

const T0: i64 = 1_770_000_000_000;

async fn audit_actions(s: &Store, prefix: &str) -> Vec<(String, String, String)> {
    s.list_audit(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action.starts_with(prefix))
        .map(|r| (r.actor, r.action, r.target))
        .collect()
}

#[tokio::test]
async fn switches_upsert_per_scope_delete_and_are_audited() {
    for db in db::backends("facteur_learnctl", T0).await {
        let s = &db.store;
        let b = s.backend();
        assert!(s.list_kill_switches().await.unwrap().is_empty(), "{b:?}");

        s.switch_off("mailbox", "3", "incident", 7).await.unwrap();
        db.clock.advance(Duration::from_secs(5));
        s.switch_off("request_type", "deces", "answer outdated", 7)
            .await
            .unwrap();
        s.switch_off("all", "", "panne", 8).await.unwrap();
        // Same scope again: replaced (reason, author, time), not duplicated.
        db.clock.advance(Duration::from_secs(5));
        s.switch_off("mailbox", "3", "incident, suite", 8)
            .await
            .unwrap();
        let all = s.list_kill_switches().await.unwrap();
        assert_eq!(all.len(), 3, "{b:?}: {all:?}");
        let mb = all.iter().find(|x| x.scope_kind == "mailbox").unwrap();
        assert_eq!(
            (
                mb.scope_value.as_str(),
                mb.reason.as_str(),
                mb.set_by,
                mb.set_at
            ),
            ("3", "incident, suite", 8, T0 + 10_000),
            "{b:?}"
        );

        // An unknown scope kind is refused by the schema, and nothing is audited.
        let before = audit_actions(s, "kill_switch.").await.len();
        assert!(
            s.switch_off("planet", "mars", "x", 7).await.is_err(),
            "{b:?}"
        );
        assert_eq!(
            audit_actions(s, "kill_switch.").await.len(),
            before,
            "{b:?}"
        );

        assert!(s.switch_on("mailbox", "3", 9).await.unwrap(), "{b:?}");
        assert!(
            !s.switch_on("mailbox", "3", 9).await.unwrap(),
            "{b:?}: already on"
        );
        let left = s.list_kill_switches().await.unwrap();
        assert_eq!(left.len(), 2, "{b:?}");
        assert!(left.iter().all(|x| x.scope_kind != "mailbox"), "{b:?}");

        let audited = audit_actions(s, "kill_switch.").await;
        assert_eq!(
            audited,
            vec![
                (
                    "user:7".into(),
                    "kill_switch.off".into(),
                    "mailbox:3".into()
                ),
                (
                    "user:7".into(),
                    "kill_switch.off".into(),
                    "request_type:deces".into()
                ),
                ("user:8".into(), "kill_switch.off".into(), "all".into()),
                (
                    "user:8".into(),
                    "kill_switch.off".into(),
                    "mailbox:3".into()
                ),
                ("user:9".into(), "kill_switch.on".into(), "mailbox:3".into()),
            ],
            "{b:?}: one audit row per change, none for a no-op"
        );
        // The free-text reason stays out of the audit log.
        let rows = s.list_audit(0, 10_000).await.unwrap();
        assert!(
            rows.iter()
                .all(|r| !r.details.to_string().contains("incident")),
            "{b:?}"
        );
        assert!(s.verify_audit().await.unwrap().ok, "{b:?}");
        s.close().await;
    }
}

#[tokio::test]
async fn a_switch_set_through_one_handle_is_seen_by_another_at_once() {
    for db in db::backends("facteur_learnctl", T0).await {
        let b = db.store.backend();
        // Another pool on the same database: what another node sees.
        let other = Store::open(&db.url).await.unwrap();
        assert!(other.list_kill_switches().await.unwrap().is_empty());
        db.store
            .switch_off("mailbox", "1", "test", 1)
            .await
            .unwrap();
        let seen = other.list_kill_switches().await.unwrap();
        assert_eq!(seen.len(), 1, "{b:?}");
        other.switch_on("mailbox", "1", 2).await.unwrap();
        assert!(
            db.store.list_kill_switches().await.unwrap().is_empty(),
            "{b:?}"
        );
        other.close().await;
        db.store.close().await;
    }
}

#[tokio::test]
async fn exclusions_are_idempotent_and_audited_once() {
    for db in db::backends("facteur_learnctl", T0).await {
        let s = &db.store;
        let b = s.backend();
        assert!(s.list_training_exclusions().await.unwrap().is_empty());
        assert!(
            s.exclude_from_training(42, "doublon", 3).await.unwrap(),
            "{b:?}"
        );
        db.clock.advance(Duration::from_secs(1));
        assert!(
            !s.exclude_from_training(42, "autre raison", 4)
                .await
                .unwrap(),
            "{b:?}"
        );
        assert!(
            s.exclude_from_training(7, "spam", 3).await.unwrap(),
            "{b:?}"
        );
        let ex = s.list_training_exclusions().await.unwrap();
        assert_eq!(
            ex,
            vec![
                StoredExclusion {
                    example_id: 7,
                    reason: "spam".into(),
                    excluded_by: 3,
                    excluded_at: T0 + 1000,
                },
                StoredExclusion {
                    example_id: 42,
                    reason: "doublon".into(),
                    excluded_by: 3,
                    excluded_at: T0,
                },
            ],
            "{b:?}: the first exclusion is kept"
        );
        let audited = audit_actions(s, "feedback.exclude").await;
        assert_eq!(audited.len(), 2, "{b:?}: {audited:?}");
        assert_eq!(audited[0].2, "example:42");
        assert!(s.verify_audit().await.unwrap().ok, "{b:?}");
        s.close().await;
    }
}

#[tokio::test]
async fn importing_legacy_controls_keeps_their_authors_and_never_overrides_the_store() {
    for db in db::backends("facteur_learnctl", T0).await {
        let s = &db.store;
        let b = s.backend();
        // A decision already taken through the store …
        s.switch_off("mailbox", "2", "décision récente", 5)
            .await
            .unwrap();
        s.exclude_from_training(11, "récente", 5).await.unwrap();
        let legacy_sw = vec![
            StoredSwitch {
                scope_kind: "mailbox".into(),
                scope_value: "2".into(),
                reason: "vieux fichier".into(),
                set_by: 1,
                set_at: 1,
            },
            StoredSwitch {
                scope_kind: "request_type".into(),
                scope_value: "deces".into(),
                reason: "réponse périmée".into(),
                set_by: 1,
                set_at: 1_700_000_000_000,
            },
        ];
        let legacy_ex = vec![
            StoredExclusion {
                example_id: 11,
                reason: "vieux".into(),
                excluded_by: 1,
                excluded_at: 1,
            },
            StoredExclusion {
                example_id: 12,
                reason: "spam".into(),
                excluded_by: 1,
                excluded_at: 1_700_000_000_000,
            },
        ];
        let r = s
            .import_learn_controls(&legacy_sw, &legacy_ex, "kill_switches.json")
            .await
            .unwrap();
        assert_eq!((r.switches, r.exclusions), (1, 1), "{b:?}");
        // … wins over the old file; the new rows keep their author and time.
        let sw = s.list_kill_switches().await.unwrap();
        assert_eq!(sw.len(), 2);
        let mb = sw.iter().find(|x| x.scope_kind == "mailbox").unwrap();
        assert_eq!((mb.reason.as_str(), mb.set_by), ("décision récente", 5));
        assert!(sw.contains(&legacy_sw[1]), "{b:?}: {sw:?}");
        let ex = s.list_training_exclusions().await.unwrap();
        assert_eq!(ex.len(), 2);
        assert!(ex.contains(&legacy_ex[1]));
        assert_eq!(ex[0].reason, "récente");
        // Importing again adds nothing.
        let again = s
            .import_learn_controls(&legacy_sw, &legacy_ex, "kill_switches.json")
            .await
            .unwrap();
        assert_eq!((again.switches, again.exclusions), (0, 0), "{b:?}");
        let imports = audit_actions(s, "learn.import").await;
        assert_eq!(imports.len(), 2, "{b:?}");
        assert_eq!(imports[0].0, "system");
        assert_eq!(imports[0].2, "kill_switches.json");
        assert!(s.verify_audit().await.unwrap().ok, "{b:?}");
        s.close().await;
    }
}

#[tokio::test]
async fn copying_a_sqlite_store_carries_switches_and_exclusions() {
    // Source: always SQLite. Targets: SQLite, and PostgreSQL when configured.
    for target in db::backends("facteur_learnctl", T0).await {
        let src = db::sqlite(T0).await;
        src.store.switch_off("all", "", "panne", 2).await.unwrap();
        src.store
            .switch_off("mailbox", "4", "incident", 2)
            .await
            .unwrap();
        src.store
            .exclude_from_training(99, "doublon", 2)
            .await
            .unwrap();
        let report = src.store.copy_to(&target.store).await.unwrap();
        assert!(report.ok, "{report:?}");
        let count = |t: &str| report.tables.iter().find(|c| c.table == t).unwrap().target;
        assert_eq!(count("kill_switches"), 2);
        assert_eq!(count("training_exclusions"), 1);
        assert_eq!(
            target.store.list_kill_switches().await.unwrap(),
            src.store.list_kill_switches().await.unwrap()
        );
        assert_eq!(
            target.store.list_training_exclusions().await.unwrap(),
            src.store.list_training_exclusions().await.unwrap()
        );
        // The copied chain verifies and keeps growing with the next change.
        target.store.switch_on("all", "", 2).await.unwrap();
        assert!(target.store.verify_audit().await.unwrap().ok);
        assert!(facteur_store::copied_tables().contains(&"kill_switches"));
        assert!(facteur_store::copied_tables().contains(&"training_exclusions"));
        src.store.close().await;
        target.store.close().await;
    }
}
