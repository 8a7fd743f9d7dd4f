//! Integration tests of the store. Every test body runs against a fresh SQLite
//! file by default, or a fresh PostgreSQL database when FACTEUR_TEST_PG_URL is set
//! (e.g. `postgres://postgres@127.0.0.1:15432/postgres`).
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use facteur_testkit::db;

use std::time::{Duration, Instant};

use facteur_testkit::db::{raw_exec, TestDb};

use facteur_core::{
    AnswerStatus, EscalationReason, MessageState, OutboxState, RejectReason, Role, Route,
};
use facteur_store::{
    Backend, InsertOutcome, JobState, NewAnswerVersion, NewMailbox, NewMessage, NewTriage, NewUser,
    QueueCursor, QueuePage, QueueQuery, QueueSort, Store, StoreError, ValidateReply,
};
use serde_json::json;

const T0: i64 = 1_750_000_000_000;

/// A fresh PostgreSQL database when FACTEUR_TEST_PG_URL is set, else a fresh
/// SQLite file.
async fn test_store() -> TestDb {
    match std::env::var("FACTEUR_TEST_PG_URL") {
        Ok(admin_url) => db::postgres(&admin_url, "facteur_test", T0).await,
        Err(_) => db::sqlite(T0).await,
    }
}

async fn raw_count(db: &TestDb, sql: &str) -> i64 {
    match db.store.backend() {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
    }
}

/// Names read from the live schema: `pg` or `sqlite` as the backend asks, with
/// `bind` as `$1` when given.
async fn live_names(db: &TestDb, pg: &str, sqlite: &str, bind: Option<&str>) -> Vec<String> {
    match db.store.backend() {
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            let mut q = sqlx::query_scalar(pg);
            if let Some(b) = bind {
                q = q.bind(b);
            }
            let v = q.fetch_all(&pool).await.unwrap();
            pool.close().await;
            v
        }
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            let mut q = sqlx::query_scalar(sqlite);
            if let Some(b) = bind {
                q = q.bind(b);
            }
            let v = q.fetch_all(&pool).await.unwrap();
            pool.close().await;
            v
        }
    }
}

async fn mailbox(s: &Store, name: &str) -> i64 {
    s.create_mailbox(
        &NewMailbox {
            name: name.into(),
            address: format!("{name}@dgfip.example"),
            signature: "Le service".into(),
            settings: json!({"lang": "fr"}),
        },
        None,
    )
    .await
    .unwrap()
}

pub(crate) async fn user(s: &Store, name: &str, role: Role) -> i64 {
    s.create_user(
        &NewUser {
            username: name.into(),
            display_name: format!("Agent {name}"),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            role,
        },
        None,
    )
    .await
    .unwrap()
}

fn msg(mailbox_id: i64, n: u32) -> NewMessage {
    NewMessage {
        mailbox_id,
        message_id: format!("m{n}@example.test"),
        content_hash: format!("{:064x}", n),
        raw: format!("Subject: question {n}\r\n\r\nBonjour, ma question {n}.").into_bytes(),
        subject: format!("question {n}"),
        from_name: Some("Citoyen".into()),
        from_address: Some("citoyen@example.test".into()),
        received_at: Some(T0 + i64::from(n) * 1000),
        parsed: Default::default(),
        ..Default::default()
    }
}

async fn triage(s: &Store, id: i64, route: Route, category: &str, confidence: f32) {
    s.record_triage(&NewTriage {
        message_id: id,
        model_version: Some("m-1".into()),
        category: Some(category.into()),
        confidence: Some(confidence),
        route,
        answer_id: Some("ans-1".into()),
        answer_version: Some(1),
        draft_text: Some("Bonjour,\nVoici la réponse.".into()),
        passages: Vec::new(),
        language: Some("fr".into()),
        pseudonymised_text: Some("Bonjour [NOM_1]".into()),
        subject_pseudonymised: None,
        classify_text: Some("question\nBonjour [NOM_1]".into()),
        pii_kinds: vec![],
        flags: vec![],
        candidates: Vec::new(),
        close_suggestion: None,
        citizen_ids: Vec::new(),
        attachment_texts: Vec::new(),
    })
    .await
    .unwrap();
}

/// The queue shows the subject as triage masked it, so it needs no detector per
/// row; a retriage that says nothing of the subject keeps the stored one.
#[tokio::test]
async fn the_masked_subject_is_kept_with_the_message_and_listed_in_the_queue() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "sujets").await;
    let id = s.insert_message(&msg(mb, 1)).await.unwrap().id();
    assert_eq!(
        s.get_message(id)
            .await
            .unwrap()
            .unwrap()
            .subject_pseudonymised,
        None
    );
    let mut t = triage_record(id);
    t.subject_pseudonymised = Some("question de [NOM_1]".into());
    s.record_triage(&t).await.unwrap();
    let m = s.get_message(id).await.unwrap().unwrap();
    assert_eq!(m.subject, "question 1");
    assert_eq!(
        m.subject_pseudonymised.as_deref(),
        Some("question de [NOM_1]")
    );
    let q = QueueQuery {
        mailbox_ids: Some(vec![mb]),
        limit: 10,
        ..Default::default()
    };
    let rows = s.list_queue(&q).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].subject_pseudonymised.as_deref(),
        Some("question de [NOM_1]")
    );
    t.subject_pseudonymised = None;
    s.record_triage(&t).await.unwrap();
    let m = s.get_message(id).await.unwrap().unwrap();
    assert_eq!(
        m.subject_pseudonymised.as_deref(),
        Some("question de [NOM_1]")
    );
}

fn triage_record(id: i64) -> NewTriage {
    NewTriage {
        message_id: id,
        model_version: Some("m-1".into()),
        category: Some("delai".into()),
        confidence: Some(0.9),
        route: Route::ReadyToValidate,
        answer_id: None,
        answer_version: None,
        draft_text: None,
        passages: Vec::new(),
        language: Some("fr".into()),
        pseudonymised_text: Some("Bonjour [NOM_1]".into()),
        subject_pseudonymised: None,
        classify_text: Some("question\nBonjour".into()),
        pii_kinds: vec![],
        flags: vec![],
        candidates: Vec::new(),
        close_suggestion: None,
        citizen_ids: Vec::new(),
        attachment_texts: Vec::new(),
    }
}

/// A mail stored from its header only stays `oversized` through every triage,
/// while triage's own flags replace the previous triage's.
#[tokio::test]
async fn the_oversized_flag_set_at_ingest_survives_triage() {
    for tdb in db::backends("facteur_oversized", T0).await {
        let s = &tdb.store;
        let mb = mailbox(s, "sip").await;
        let mut m = msg(mb, 1);
        m.flags = vec!["oversized".into()];
        let id = s.insert_message(&m).await.unwrap().id();
        let mut t = triage_record(id);
        t.flags = vec!["complaint".into()];
        s.record_triage(&t).await.unwrap();
        let flags = s.get_message(id).await.unwrap().unwrap().flags;
        assert_eq!(flags, ["complaint", "oversized"]);
        t.flags = vec![];
        s.record_triage(&t).await.unwrap();
        let flags = s.get_message(id).await.unwrap().unwrap().flags;
        assert_eq!(flags, ["oversized"]);
    }
}

fn reply(message_id: i64, user_id: i64, reply_id: &str) -> ValidateReply {
    ValidateReply {
        message_id,
        user_id,
        body: "Bonjour,\nVoici la réponse.".into(),
        reply_message_id: reply_id.into(),
        to_address: "citoyen@example.test".into(),
        subject: "Re: question".into(),
        in_reply_to: Some("m1@example.test".into()),
        references: vec!["m1@example.test".into()],
        send_delay_ms: 0,
    }
}

#[tokio::test]
async fn migrations_on_fresh_database_and_reopen() {
    let db = test_store().await;
    let mb = mailbox(&db.store, "sip-paris").await;
    db.store.close().await;
    let reopened = Store::open(&db.url)
        .await
        .expect("reopen runs migrations again");
    let m = reopened.get_mailbox(mb).await.unwrap().expect("kept");
    assert_eq!(m.name, "sip-paris");
    assert_eq!(m.settings, json!({"lang": "fr"}));
    assert_eq!(reopened.count_messages(None).await.unwrap(), 0);
    assert!(matches!(
        Store::open("mysql://x").await,
        Err(StoreError::UnsupportedUrl { .. })
    ));
}

#[tokio::test]
async fn ingest_is_idempotent_even_concurrently() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "a").await;
    let first = s.insert_message(&msg(mb, 1)).await.unwrap();
    let InsertOutcome::Inserted(id) = first else {
        panic!("first insert must insert: {first:?}")
    };
    assert_eq!(
        s.insert_message(&msg(mb, 1)).await.unwrap(),
        InsertOutcome::Duplicate(id)
    );
    // Same Message-ID, different content: a different message.
    let mut changed = msg(mb, 1);
    changed.content_hash = "f".repeat(64);
    assert!(matches!(
        s.insert_message(&changed).await.unwrap(),
        InsertOutcome::Inserted(other) if other != id
    ));

    let mut handles = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        handles.push(tokio::spawn(
            async move { s.insert_message(&msg(mb, 2)).await },
        ));
    }
    let mut inserted = 0;
    let mut ids = Vec::new();
    for h in handles {
        let out = h.await.unwrap().unwrap();
        if matches!(out, InsertOutcome::Inserted(_)) {
            inserted += 1;
        }
        ids.push(out.id());
    }
    assert_eq!(inserted, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1, "all report the same id");
    assert_eq!(s.count_messages(Some(mb)).await.unwrap(), 3);
    let stored = s.get_message(ids[0]).await.unwrap().unwrap();
    assert_eq!(stored.state, MessageState::New);
    assert_eq!(
        s.get_raw(ids[0]).await.unwrap().unwrap(),
        msg(mb, 2).raw,
        "raw bytes kept as received"
    );
}

#[tokio::test]
async fn queue_filters_sorts_and_pages() {
    let db = test_store().await;
    let s = &db.store;
    let a = mailbox(s, "a").await;
    let b = mailbox(s, "b").await;
    let c = mailbox(s, "c").await;
    // 90 messages over 3 mailboxes, various routes, categories and confidences.
    let mut expected = Vec::new(); // (id, mailbox, state, category, confidence, received)
    for n in 0..90u32 {
        let mb = [a, b, c][(n % 3) as usize];
        let id = s.insert_message(&msg(mb, n)).await.unwrap().id();
        let route =
            [Route::ReadyToValidate, Route::NeedsResearch, Route::Abstain][(n % 4 % 3) as usize];
        let cat = if n % 2 == 0 { "ir" } else { "tf" };
        // Repeated confidences exercise the id tiebreak.
        let conf = f32::from((n % 7) as u8) / 10.0;
        triage(s, id, route, cat, conf).await;
        expected.push((
            id,
            mb,
            MessageState::from(route),
            cat,
            conf,
            T0 + i64::from(n) * 1000,
        ));
    }

    // Agent view: mailboxes a and b, ready only, age order.
    let q = QueueQuery {
        mailbox_ids: Some(vec![a, b]),
        states: vec![MessageState::ReadyToValidate],
        limit: 500,
        ..Default::default()
    };
    let got: Vec<i64> = s
        .list_queue(&q)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    let want: Vec<i64> = expected
        .iter()
        .filter(|e| (e.1 == a || e.1 == b) && e.2 == MessageState::ReadyToValidate)
        .map(|e| e.0)
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);

    // Category filter across all mailboxes and all open states.
    let q = QueueQuery {
        category: Some("tf".into()),
        limit: 500,
        ..Default::default()
    };
    let got: Vec<i64> = s
        .list_queue(&q)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    let want: Vec<i64> = expected
        .iter()
        .filter(|e| e.3 == "tf")
        .map(|e| e.0)
        .collect();
    assert_eq!(got, want);

    // Confidence sort, keyset pages of 7: the concatenation equals the full order.
    let mut want: Vec<(f32, i64)> = expected.iter().map(|e| (e.4, e.0)).collect();
    want.sort_by(|x, y| y.0.partial_cmp(&x.0).unwrap().then(y.1.cmp(&x.1)));
    let mut walked = Vec::new();
    let mut page = QueuePage::First;
    loop {
        let rows = s
            .list_queue(&QueueQuery {
                sort: QueueSort::Confidence,
                page,
                limit: 7,
                ..Default::default()
            })
            .await
            .unwrap();
        if rows.is_empty() {
            break;
        }
        assert!(rows.len() <= 7);
        let last = rows.last().unwrap().cursor;
        // Cursors survive a URL round trip.
        page = QueuePage::After(QueueCursor::decode(&last.encode()).unwrap());
        walked.extend(rows.iter().map(|r| r.id));
    }
    assert_eq!(walked, want.iter().map(|w| w.1).collect::<Vec<_>>());

    // Offset paging gives the same slices as keyset paging (age order).
    let all: Vec<i64> = expected.iter().map(|e| e.0).collect();
    let page3 = s
        .list_queue(&QueueQuery {
            page: QueuePage::Offset(20),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page3.iter().map(|r| r.id).collect::<Vec<_>>(), all[20..30]);

    // Closed messages leave the default (open) queue.
    let agent = user(s, "sup", Role::Supervisor).await;
    s.validate_and_queue(&reply(all[0], agent, "<r0@x>"))
        .await
        .unwrap();
    let first = s
        .list_queue(&QueueQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(first[0].id, all[1]);
    assert!(s
        .list_queue(&QueueQuery {
            mailbox_ids: Some(vec![]),
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn queue_page_over_100k_messages_is_fast() {
    let db = test_store().await;
    let s = &db.store;
    let mbs = [
        mailbox(s, "a").await,
        mailbox(s, "b").await,
        mailbox(s, "c").await,
    ];
    let state = "CASE i % 7 WHEN 0 THEN 'ready_to_validate' WHEN 1 THEN 'needs_research' \
        WHEN 2 THEN 'abstained' WHEN 3 THEN 'escalated' WHEN 4 THEN 'validated' WHEN 5 THEN 'sent' \
        ELSE 'new' END";
    let cols = "INSERT INTO messages (mailbox_id, message_id, content_hash, raw, subject, \
        received_at, state, category, confidence, updated_at, pseudonymised_text)";
    let values = format!(
        "{a} + (i % 3), 'bulk' || i, HASH, RAW, 'sujet ' || i, {T0} + (i * 37 % 100000) * 1000, \
         {state}, 'cat' || (i % 20), (i % 100) / 100.0, {T0}, \
         'Bonjour, demande ' || i || CASE WHEN i % 50 = 0 THEN ' de delai de paiement' ELSE ' sur mon avis' END",
        a = mbs[0]
    );
    let seed = match s.backend() {
        Backend::Sqlite => format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
             {cols} SELECT {} FROM n",
            values
                .replace("HASH", "printf('%064d', i)")
                .replace("RAW", "X'00'")
        ),
        Backend::Postgres => format!(
            "{cols} SELECT {} FROM generate_series(1, 100000) AS i; ANALYZE messages",
            values
                .replace("HASH", "lpad(i::text, 64, '0')")
                .replace("RAW", "'\\x00'::bytea")
        ),
    };
    let t = Instant::now();
    raw_exec(&db, &seed).await.expect("seed 100k");
    if s.backend() == Backend::Sqlite {
        raw_exec(&db, "ANALYZE").await.unwrap();
    }
    eprintln!("seeded 100k messages in {:?}", t.elapsed());
    assert_eq!(s.count_messages(None).await.unwrap(), 100_000);

    let mut worst = Duration::ZERO;
    let mut measure = |label: &str, d: Duration| {
        eprintln!(
            "queue page over 100k: {label}: {:.2} ms",
            d.as_secs_f64() * 1000.0
        );
        worst = worst.max(d);
    };
    // Warm the cache once.
    s.list_queue(&QueueQuery {
        limit: 50,
        ..Default::default()
    })
    .await
    .unwrap();

    let t = Instant::now();
    let first = s
        .list_queue(&QueueQuery {
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    measure("first page, all mailboxes, open states, age", t.elapsed());
    assert_eq!(first.len(), 50);
    assert!(first
        .windows(2)
        .all(|w| (w[0].received_at, w[0].id) <= (w[1].received_at, w[1].id)));

    // Deep keyset page: walk 20 pages.
    let mut page = QueuePage::First;
    let t = Instant::now();
    for _ in 0..20 {
        let rows = s
            .list_queue(&QueueQuery {
                mailbox_ids: Some(vec![mbs[0], mbs[1]]),
                sort: QueueSort::Confidence,
                page,
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 50);
        page = QueuePage::After(rows.last().unwrap().cursor);
    }
    measure(
        "keyset page (mean of 20), 2 mailboxes, confidence",
        t.elapsed() / 20,
    );

    let t = Instant::now();
    let rows = s
        .list_queue(&QueueQuery {
            mailbox_ids: Some(vec![mbs[2]]),
            states: vec![MessageState::ReadyToValidate],
            category: Some("cat7".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    measure("filtered page (mailbox, state, category)", t.elapsed());
    assert!(rows.iter().all(|r| r.category.as_deref() == Some("cat7")
        && r.state == MessageState::ReadyToValidate
        && r.mailbox_id == mbs[2]));

    let t = Instant::now();
    let rows = s
        .list_queue(&QueueQuery {
            page: QueuePage::Offset(2000),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    measure("offset 2000 page", t.elapsed());
    assert_eq!(rows.len(), 50);

    let t = Instant::now();
    s.count_messages(Some(mbs[0])).await.unwrap();
    measure("count_messages(mailbox)", t.elapsed());

    // Search (issue 17): a word in 2 % of the mail, then one in none (every
    // row of the mailbox read), whole mailbox, every state.
    let search = |word: &str| QueueQuery {
        mailbox_ids: Some(vec![mbs[0]]),
        states: MessageState::ALL.to_vec(),
        search: Some(word.into()),
        limit: 50,
        ..Default::default()
    };
    let t = Instant::now();
    let rows = s.list_queue(&search("delai paiement")).await.unwrap();
    measure("search, 2 % match, one mailbox, all states", t.elapsed());
    assert_eq!(rows.len(), 50);
    let t = Instant::now();
    let rows = s.list_queue(&search("introuvable")).await.unwrap();
    measure("search, no match (whole mailbox read)", t.elapsed());
    assert!(rows.is_empty());

    assert!(
        worst < Duration::from_millis(500),
        "worst page took {worst:?}"
    );
}

#[tokio::test]
async fn validate_and_queue_is_atomic() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "a").await;
    let agent = user(s, "alice", Role::Agent).await;
    s.set_mailbox_access(agent, mb, true, None).await.unwrap();
    let m1 = s.insert_message(&msg(mb, 1)).await.unwrap().id();
    let m2 = s.insert_message(&msg(mb, 2)).await.unwrap().id();
    triage(s, m1, Route::ReadyToValidate, "ir", 0.9).await;
    triage(s, m2, Route::ReadyToValidate, "ir", 0.9).await;

    let audit_before = s.verify_audit().await.unwrap().rows;
    let mut edited = reply(m1, agent, "<reply-1@dgfip.example>");
    edited.body.push_str("\nCordialement");
    let ob = s.validate_and_queue(&edited).await.unwrap();

    let item = s.get_outbox(ob).await.unwrap().unwrap();
    assert_eq!(item.message_id, m1);
    assert_eq!(item.state, OutboxState::Queued);
    assert_eq!(item.body, edited.body, "exactly the validated text");
    assert_eq!(item.validated_by_name, "Agent alice");
    assert_eq!(item.references, vec!["m1@example.test".to_string()]);
    assert_eq!(
        s.get_message(m1).await.unwrap().unwrap().state,
        MessageState::Validated
    );
    let actions = s.list_actions(m1).await.unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].kind, "validate_send");
    assert_eq!(actions[0].after["edited"], json!(true));
    assert_eq!(actions[0].model_version.as_deref(), Some("m-1"));
    let audit = s.list_audit(audit_before as i64, 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "message.validate_send");
    assert_eq!(audit[0].target, format!("message:{m1}"));
    let details = audit[0].details.to_string();
    assert!(
        !details.contains("Bonjour") && !details.contains("citoyen@"),
        "no body or address in audit: {details}"
    );

    // A reply with a field left to complete is refused by the store itself,
    // whatever the entry point, and changes nothing.
    let mut unfinished = reply(m2, agent, "<reply-2@dgfip.example>");
    unfinished.body = "Bonjour [[à compléter : civilite]] Martin,".into();
    let audit_rows = s.verify_audit().await.unwrap().rows;
    let refused = s.validate_and_queue(&unfinished).await;
    assert!(
        matches!(
            &refused,
            Err(StoreError::ReplyRefused { problem: facteur_core::reply::ReplyProblem::Unfilled(f), .. }) if f == &["civilite".to_string()]
        ),
        "{refused:?}"
    );
    assert_eq!(s.verify_audit().await.unwrap().rows, audit_rows);
    assert!(s.get_outbox_for_message(m2).await.unwrap().is_none());
    assert_eq!(
        s.get_message(m2).await.unwrap().unwrap().state,
        MessageState::ReadyToValidate
    );

    // Validating twice is refused (state is no longer open).
    let again = s
        .validate_and_queue(&reply(m1, agent, "<reply-1b@x>"))
        .await;
    assert!(
        matches!(again, Err(StoreError::InvalidState { .. })),
        "{again:?}"
    );

    // A failure at the last insert (reply Message-ID reused) leaves nothing behind.
    let audit_rows = s.verify_audit().await.unwrap().rows;
    let err = s
        .validate_and_queue(&reply(m2, agent, "<reply-1@dgfip.example>"))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("validate message {m2} by user {agent}")),
        "{err}"
    );
    assert_eq!(
        s.get_message(m2).await.unwrap().unwrap().state,
        MessageState::ReadyToValidate
    );
    assert!(s.list_actions(m2).await.unwrap().is_empty());
    assert!(s.get_outbox_for_message(m2).await.unwrap().is_none());
    assert_eq!(raw_count(&db, "SELECT COUNT(*) FROM outbox").await, 1);
    assert_eq!(
        raw_count(&db, "SELECT COUNT(*) FROM agent_actions").await,
        1
    );
    let report = s.verify_audit().await.unwrap();
    assert_eq!(report.rows, audit_rows);
    assert!(report.ok);

    // An agent without access to the mailbox is refused, nothing changes.
    let bob = user(s, "bob", Role::Agent).await;
    let err = s
        .validate_and_queue(&reply(m2, bob, "<reply-2@x>"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Forbidden { .. }), "{err}");
    assert!(s.list_actions(m2).await.unwrap().is_empty());
}

#[tokio::test]
async fn other_agent_actions_record_state_action_and_audit() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "a").await;
    let other_mb = mailbox(s, "b").await;
    let alice = user(s, "alice", Role::Agent).await;
    let bob = user(s, "bob", Role::Agent).await;
    let carol = user(s, "carol", Role::Agent).await;
    s.set_mailbox_access(alice, mb, true, None).await.unwrap();
    s.set_mailbox_access(bob, mb, true, None).await.unwrap();
    s.set_mailbox_access(carol, other_mb, true, None)
        .await
        .unwrap();
    let m = s.insert_message(&msg(mb, 1)).await.unwrap().id();
    triage(s, m, Route::ReadyToValidate, "ir", 0.8).await;

    s.correct_category(m, alice, "tf").await.unwrap();
    assert_eq!(
        s.get_message(m).await.unwrap().unwrap().category.as_deref(),
        Some("tf")
    );
    s.assign(m, alice, bob).await.unwrap();
    assert_eq!(
        s.get_message(m).await.unwrap().unwrap().assigned_to,
        Some(bob)
    );
    let err = s.assign(m, alice, carol).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Forbidden { .. }),
        "carol cannot see the mailbox"
    );
    s.reject_draft(m, bob, RejectReason::OutdatedAnswer)
        .await
        .unwrap();
    assert_eq!(
        s.get_message(m).await.unwrap().unwrap().state,
        MessageState::NeedsResearch
    );
    s.escalate(m, bob, EscalationReason::Legal).await.unwrap();
    assert_eq!(
        s.get_message(m).await.unwrap().unwrap().state,
        MessageState::Escalated
    );
    // The reason travels with the action, as a code.
    let escalation = s
        .list_actions(m)
        .await
        .unwrap()
        .into_iter()
        .rfind(|a| a.kind == "escalate")
        .unwrap();
    assert_eq!(escalation.after["reason"], "legal", "{escalation:?}");
    let raw = s.reveal_pii_logged(m, bob).await.unwrap();
    assert_eq!(raw, msg(mb, 1).raw);
    assert!(s.reveal_pii_logged(m, carol).await.is_err());

    let kinds: Vec<String> = s
        .list_actions(m)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "correct_category",
            "assign",
            "reject",
            "escalate",
            "reveal_pii"
        ]
    );
    let reject = &s.list_actions(m).await.unwrap()[2];
    assert_eq!(reject.after["reason"], json!("outdated_answer"));
    assert_eq!(reject.before["state"], json!("ready_to_validate"));
    // The reject names the triage whose draft it refused (not a time to compare).
    let triage_id = s.latest_triage(m).await.unwrap().map(|t| t.id);
    assert!(triage_id.is_some());
    assert_eq!(reject.triage_id(), triage_id);
    let audit = s.list_audit(0, 100).await.unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .map(|a| a.action.as_str())
        .filter(|a| a.starts_with("message."))
        .collect();
    assert_eq!(
        actions,
        [
            "message.triage",
            "message.correct_category",
            "message.assign",
            "message.reject",
            "message.escalate",
            "message.reveal_pii"
        ]
    );
    // Triage cannot reopen a closed decision.
    s.validate_and_queue(&reply(m, bob, "<r@x>")).await.unwrap();
    let t = s
        .record_triage(&NewTriage {
            message_id: m,
            model_version: None,
            category: None,
            confidence: None,
            route: Route::Abstain,
            answer_id: None,
            answer_version: None,
            draft_text: None,
            passages: Vec::new(),
            language: None,
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
        .await;
    assert!(matches!(t, Err(StoreError::InvalidState { .. })));
    assert!(s.verify_audit().await.unwrap().ok);
}

#[tokio::test]
async fn audit_chain_verifies_and_detects_tampering() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "a").await;
    let sup = user(s, "sup", Role::Supervisor).await;
    for n in 0..5 {
        let id = s.insert_message(&msg(mb, n)).await.unwrap().id();
        triage(s, id, Route::ReadyToValidate, "ir", 0.7).await;
        s.correct_category(id, sup, "tf").await.unwrap();
    }
    s.audit("user:1", "login", "user:1", &json!({"ok": true}))
        .await
        .unwrap();
    let report = s.verify_audit().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.rows, 2 + 5 * 2 + 1);
    assert_eq!(report.first_bad_seq, None);

    // The database itself refuses UPDATE and DELETE.
    let upd = raw_exec(&db, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").await;
    assert!(upd.unwrap_err().to_string().contains("append-only"));
    let del = raw_exec(&db, "DELETE FROM audit_log WHERE seq = 3").await;
    assert!(del.unwrap_err().to_string().contains("append-only"));
    assert!(s.verify_audit().await.unwrap().ok);

    // Someone with file access drops the trigger and rewrites a row.
    let drop = match s.backend() {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
        Backend::Postgres => "DROP TRIGGER audit_log_no_update ON audit_log",
    };
    raw_exec(&db, drop).await.unwrap();
    assert_eq!(
        raw_exec(
            &db,
            "UPDATE audit_log SET details = '{\"category\":\"x\"}' WHERE seq = 6"
        )
        .await
        .unwrap(),
        1
    );
    let report = s.verify_audit().await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.first_bad_seq, Some(6));
    assert_eq!(report.rows, 6);
}

#[tokio::test]
async fn audit_detects_truncation() {
    let db = test_store().await;
    let s = &db.store;
    for n in 0..4 {
        mailbox(s, &format!("mb{n}")).await;
    }
    assert!(s.verify_audit().await.unwrap().ok);
    let drop = match s.backend() {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_delete",
        Backend::Postgres => "DROP TRIGGER audit_log_no_delete ON audit_log",
    };
    raw_exec(&db, drop).await.unwrap();
    raw_exec(&db, "DELETE FROM audit_log WHERE seq = 4")
        .await
        .unwrap();
    let report = s.verify_audit().await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.first_bad_seq, Some(4));
}

#[tokio::test]
async fn outbox_claim_lease_expiry_and_retry() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "a").await;
    let sup = user(s, "sup", Role::Supervisor).await;
    let m1 = s.insert_message(&msg(mb, 1)).await.unwrap().id();
    let m2 = s.insert_message(&msg(mb, 2)).await.unwrap().id();
    let o1 = s
        .validate_and_queue(&reply(m1, sup, "<r1@x>"))
        .await
        .unwrap();
    let o2 = s
        .validate_and_queue(&reply(m2, sup, "<r2@x>"))
        .await
        .unwrap();
    let lease = Duration::from_secs(60);

    let c1 = s.claim_outbox("w1", lease).await.unwrap().unwrap();
    assert_eq!(
        (c1.id, c1.state, c1.attempts),
        (o1, OutboxState::Sending, 1)
    );
    assert_eq!(c1.lease_owner.as_deref(), Some("w1"));
    let c2 = s.claim_outbox("w2", lease).await.unwrap().unwrap();
    assert_eq!(c2.id, o2);
    assert!(
        s.claim_outbox("w3", lease).await.unwrap().is_none(),
        "both leased"
    );

    // w1 dies; after the lease, w3 takes over and w1 can no longer report.
    db.clock.advance(Duration::from_secs(61));
    let c3 = s.claim_outbox("w3", lease).await.unwrap().unwrap();
    assert_eq!((c3.id, c3.attempts), (o1, 2));
    let err = s.mark_sent(o1, "w1").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    s.mark_sent(o1, "w3").await.unwrap();
    let sent = s.get_outbox(o1).await.unwrap().unwrap();
    assert_eq!(sent.state, OutboxState::Sent);
    assert_eq!(sent.sent_at, Some(db.clock_now()));
    assert_eq!(
        s.get_message(m1).await.unwrap().unwrap().state,
        MessageState::Sent
    );

    // o2's lease also expired; reclaim, fail retryably, back off, retry.
    let c = s.claim_outbox("w2", lease).await.unwrap().unwrap();
    assert_eq!(c.id, o2);
    s.mark_failed(o2, "w2", false, "421 try later")
        .await
        .unwrap();
    let f = s.get_outbox(o2).await.unwrap().unwrap();
    assert_eq!(f.state, OutboxState::Failed);
    assert_eq!(f.last_error.as_deref(), Some("421 try later"));
    assert_eq!(
        f.next_attempt_at,
        Some(db.clock_now() + 60_000),
        "2nd attempt → 60 s"
    );
    assert!(
        s.claim_outbox("w2", lease).await.unwrap().is_none(),
        "not yet due"
    );
    db.clock.advance(Duration::from_secs(61));
    let c = s.claim_outbox("w2", lease).await.unwrap().unwrap();
    assert_eq!((c.id, c.attempts), (o2, 3));
    s.mark_failed(o2, "w2", true, "550 no such user")
        .await
        .unwrap();
    db.clock.advance(Duration::from_secs(24 * 3600));
    assert!(
        s.claim_outbox("w2", lease).await.unwrap().is_none(),
        "permanent failure is never retried"
    );
    assert_eq!(s.outbox_count(OutboxState::Failed).await.unwrap(), 1);
    assert_eq!(s.outbox_count(OutboxState::Sent).await.unwrap(), 1);
    assert!(s.verify_audit().await.unwrap().ok);
}

#[tokio::test]
async fn concurrent_claims_never_share_an_item() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "a").await;
    let sup = user(s, "sup", Role::Supervisor).await;
    for n in 0..10 {
        let m = s.insert_message(&msg(mb, n)).await.unwrap().id();
        s.validate_and_queue(&reply(m, sup, &format!("<r{n}@x>")))
            .await
            .unwrap();
    }
    let mut handles = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(item) = s
                .claim_outbox(&format!("w{w}"), Duration::from_secs(60))
                .await
                .unwrap()
            {
                s.mark_sent(item.id, &format!("w{w}")).await.unwrap();
                got.push(item.id);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!((n, all.len()), (10, 10), "each reply claimed exactly once");
}

#[tokio::test]
async fn sessions_expire_slide_and_end_with_the_user() {
    let db = test_store().await;
    let s = &db.store;
    let u = user(s, "alice", Role::Agent).await;
    let ttl = Duration::from_secs(3600);
    let sess = s
        .create_session("tok-secret", u, "csrf-1", ttl)
        .await
        .unwrap();
    assert_ne!(sess.id, "tok-secret", "only the hash is stored");
    let (got, who) = s.get_session("tok-secret").await.unwrap().unwrap();
    assert_eq!(
        (got.user_id, got.csrf_token.as_str(), who.username.as_str()),
        (u, "csrf-1", "alice")
    );
    assert!(s.get_session("other").await.unwrap().is_none());

    db.clock.advance(Duration::from_secs(1800));
    assert!(s.touch_session("tok-secret", ttl).await.unwrap());
    db.clock.advance(Duration::from_secs(3000)); // 80 min after creation, 50 after touch
    assert!(
        s.get_session("tok-secret").await.unwrap().is_some(),
        "sliding expiry"
    );
    db.clock.advance(Duration::from_secs(700));
    assert!(
        s.get_session("tok-secret").await.unwrap().is_none(),
        "expired"
    );
    assert!(
        !s.touch_session("tok-secret", ttl).await.unwrap(),
        "no resurrection"
    );
    s.create_session("tok-2", u, "csrf-2", ttl).await.unwrap();
    assert_eq!(s.expire_sessions().await.unwrap(), 1);
    assert!(s.get_session("tok-2").await.unwrap().is_some());
    assert!(s.delete_session("tok-2").await.unwrap());
    assert!(s.get_session("tok-2").await.unwrap().is_none());

    s.create_session("tok-3", u, "csrf-3", ttl).await.unwrap();
    s.update_user(u, Role::Agent, false, None).await.unwrap();
    assert!(
        s.get_session("tok-3").await.unwrap().is_none(),
        "deactivation ends sessions"
    );
}

#[tokio::test]
async fn mailbox_access_checks() {
    let db = test_store().await;
    let s = &db.store;
    let a = mailbox(s, "a").await;
    let b = mailbox(s, "b").await;
    let agent = user(s, "agent", Role::Agent).await;
    let sup = user(s, "sup", Role::Supervisor).await;
    let admin = user(s, "admin", Role::Admin).await;
    s.set_mailbox_access(agent, a, true, Some(admin))
        .await
        .unwrap();
    s.set_mailbox_access(agent, a, true, Some(admin))
        .await
        .unwrap(); // idempotent

    assert!(s.user_can_access(agent, a).await.unwrap());
    assert!(!s.user_can_access(agent, b).await.unwrap());
    assert!(s.user_can_access(sup, b).await.unwrap());
    assert!(s.user_can_access(admin, a).await.unwrap());
    assert!(!s.user_can_access(9999, a).await.unwrap());
    assert_eq!(s.user_mailbox_ids(agent).await.unwrap(), vec![a]);
    assert_eq!(s.user_mailbox_ids(sup).await.unwrap(), vec![a, b]);

    s.set_mailbox_access(agent, a, false, Some(admin))
        .await
        .unwrap();
    assert!(!s.user_can_access(agent, a).await.unwrap());
    s.update_user(sup, Role::Supervisor, false, Some(admin))
        .await
        .unwrap();
    assert!(
        !s.user_can_access(sup, a).await.unwrap(),
        "inactive users see nothing"
    );
    assert!(s.user_mailbox_ids(sup).await.unwrap().is_empty());

    let dup = s
        .create_user(
            &NewUser {
                username: "agent".into(),
                display_name: "x".into(),
                password_hash: "x".into(),
                role: Role::Agent,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(dup.is_conflict(), "{dup}");
    assert_eq!(
        s.get_user_by_username("agent").await.unwrap().unwrap().id,
        agent
    );
    assert!(s.verify_audit().await.unwrap().ok);
}

#[tokio::test]
async fn answer_and_model_versions() {
    let db = test_store().await;
    let s = &db.store;
    let sup = user(s, "sup", Role::Supervisor).await;
    let new = |content: &str| NewAnswerVersion {
        answer_id: "ir-date-limite".into(),
        title: "Date limite".into(),
        language: "fr".into(),
        content: content.into(),
        valid_from: Some("2025-04-01".into()),
        valid_until: None,
        author_id: Some(sup),
    };
    assert_eq!(s.create_answer_version(&new("v1")).await.unwrap(), 1);
    assert_eq!(s.create_answer_version(&new("v2")).await.unwrap(), 2);
    // Four eyes: the author cannot validate what she wrote; a colleague can.
    assert!(matches!(
        s.set_answer_status("ir-date-limite", 1, AnswerStatus::Validated, sup)
            .await,
        Err(StoreError::FourEyes { .. })
    ));
    assert_eq!(
        s.list_answer_versions("ir-date-limite").await.unwrap()[0].status,
        AnswerStatus::Draft
    );
    // "Soumettre pour validation": recorded once, audited, drafts only.
    assert_eq!(
        s.list_answer_versions("ir-date-limite").await.unwrap()[0].submitted_at,
        None
    );
    s.submit_answer_version("ir-date-limite", 1, sup)
        .await
        .unwrap();
    let at = s.list_answer_versions("ir-date-limite").await.unwrap()[0].submitted_at;
    assert!(at.is_some());
    s.submit_answer_version("ir-date-limite", 1, sup)
        .await
        .unwrap();
    assert_eq!(
        s.list_answer_versions("ir-date-limite").await.unwrap()[0].submitted_at,
        at,
        "submitting twice changes nothing"
    );
    assert!(matches!(
        s.submit_answer_version("ir-date-limite", 9, sup).await,
        Err(StoreError::NotFound { .. })
    ));
    // She may still retire her own draft.
    let reviewer = user(s, "rev", Role::Supervisor).await;
    s.set_answer_status("ir-date-limite", 1, AnswerStatus::Validated, reviewer)
        .await
        .unwrap();
    s.set_answer_status("ir-date-limite", 2, AnswerStatus::Validated, reviewer)
        .await
        .unwrap();
    let versions = s.list_answer_versions("ir-date-limite").await.unwrap();
    assert_eq!(versions[0].status, AnswerStatus::Retired);
    assert_eq!(versions[1].status, AnswerStatus::Validated);
    assert_eq!(s.validated_answers().await.unwrap().len(), 1);
    // A validated version is no longer a draft to submit.
    assert!(matches!(
        s.submit_answer_version("ir-date-limite", 2, sup).await,
        Err(StoreError::InvalidState { .. })
    ));

    s.create_model_version("m-1", &json!({"macro_f1": 0.78}), Some(sup))
        .await
        .unwrap();
    s.create_model_version("m-2", &json!({"macro_f1": 0.80}), Some(sup))
        .await
        .unwrap();
    assert!(s.active_model().await.unwrap().is_none());
    s.promote_model("m-1", sup).await.unwrap();
    s.promote_model("m-2", sup).await.unwrap();
    let active = s.active_model().await.unwrap().unwrap();
    assert_eq!(active.id, "m-2");
    assert_eq!(active.review_due, Some(T0 + 90 * 24 * 3600 * 1000));
    let all = s.list_model_versions().await.unwrap();
    assert_eq!(
        all.iter().find(|m| m.id == "m-1").unwrap().status,
        facteur_core::ModelStatus::Retired
    );
    assert!(matches!(
        s.promote_model("nope", sup).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(s.verify_audit().await.unwrap().ok);
}

#[tokio::test]
async fn concurrent_audited_actions_keep_one_linear_chain() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "a").await;
    let sup = user(s, "sup", Role::Supervisor).await;
    let mut ids = Vec::new();
    for n in 0..16 {
        ids.push(s.insert_message(&msg(mb, n)).await.unwrap().id());
    }
    let mut handles = Vec::new();
    for id in ids.clone() {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.correct_category(id, sup, "tf").await.unwrap();
            s.escalate(id, sup, EscalationReason::Other).await.unwrap();
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let report = s.verify_audit().await.unwrap();
    assert!(report.ok, "{report:?}");
    // 2 creations (mailbox, user) + 2 actions per message.
    assert_eq!(report.rows, 2 + 2 * ids.len() as u64);
    for id in ids {
        assert_eq!(
            s.get_message(id).await.unwrap().unwrap().state,
            MessageState::Escalated
        );
    }
}

// ------------------------------------------------------------------ round 2

#[tokio::test]
async fn list_outbox_counts_by_state_and_list_answers() {
    let db = test_store().await;
    let s = &db.store;
    let a = mailbox(s, "a").await;
    let b = mailbox(s, "b").await;
    let sup = user(s, "sup", Role::Supervisor).await;
    let mut outbox_ids = Vec::new();
    for n in 0..3 {
        let mb = if n == 1 { b } else { a };
        let m = s.insert_message(&msg(mb, n)).await.unwrap().id();
        outbox_ids.push(
            s.validate_and_queue(&reply(m, sup, &format!("<r{n}@x>")))
                .await
                .unwrap(),
        );
    }
    s.insert_message(&msg(a, 10)).await.unwrap();
    s.insert_message(&msg(b, 11)).await.unwrap();

    let all = s.list_outbox(None, 50).await.unwrap();
    let ids: Vec<i64> = all.iter().map(|o| o.id).collect();
    let mut newest_first = outbox_ids.clone();
    newest_first.reverse();
    assert_eq!(ids, newest_first);
    let only_a = s.list_outbox(Some(&[a]), 50).await.unwrap();
    assert_eq!(
        only_a.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![outbox_ids[2], outbox_ids[0]]
    );
    assert_eq!(s.list_outbox(Some(&[a, b]), 1).await.unwrap().len(), 1);
    assert!(s.list_outbox(Some(&[]), 50).await.unwrap().is_empty());

    let counts = s.count_messages_by_state(None).await.unwrap();
    assert_eq!(counts.len(), MessageState::ALL.len(), "every state listed");
    let get = |st: MessageState| counts.iter().find(|(s, _)| *s == st).unwrap().1;
    assert_eq!(get(MessageState::Validated), 3);
    assert_eq!(get(MessageState::New), 2);
    assert_eq!(counts.iter().map(|c| c.1).sum::<i64>(), 5);
    // One mailbox's counts (the queue tabs): those of `a` and of `b` add up.
    let of = |mb| {
        let s = s.clone();
        async move { s.count_messages_by_state(Some(mb)).await.unwrap() }
    };
    let (ca, cb) = (of(a).await, of(b).await);
    assert_eq!(ca.len(), MessageState::ALL.len());
    for ((st, n), ((_, x), (_, y))) in counts.iter().zip(ca.iter().zip(&cb)) {
        assert_eq!(*n, x + y, "{st:?}");
    }
    assert!(ca.iter().map(|c| c.1).sum::<i64>() > 0);

    let draft = |id: &str, content: &str| NewAnswerVersion {
        answer_id: id.into(),
        title: format!("titre {id}"),
        language: "fr".into(),
        content: content.into(),
        valid_from: None,
        valid_until: None,
        author_id: Some(sup),
    };
    s.create_answer_version(&draft("a1", "v1")).await.unwrap();
    let reviewer = user(s, "rev", Role::Supervisor).await;
    s.set_answer_status("a1", 1, AnswerStatus::Validated, reviewer)
        .await
        .unwrap();
    s.create_answer_version(&draft("a1", "v2 brouillon"))
        .await
        .unwrap();
    s.create_answer_version(&draft("a2", "seule"))
        .await
        .unwrap();
    s.set_answer_status("a2", 1, AnswerStatus::Retired, sup)
        .await
        .unwrap();
    let list = s.list_answers().await.unwrap();
    let summary: Vec<(&str, i64, AnswerStatus)> = list
        .iter()
        .map(|a| (a.answer_id.as_str(), a.version, a.status))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a1", 2, AnswerStatus::Draft),
            ("a2", 1, AnswerStatus::Retired)
        ]
    );
    assert_eq!(s.validated_answers().await.unwrap().len(), 1);

    // One state, filtered in the query: the oldest reply failed, and a page of the
    // newest row only would not show it.
    let lease = Duration::from_secs(60);
    let first = s.claim_outbox("w", lease).await.unwrap().unwrap();
    assert_eq!(first.id, outbox_ids[0]);
    s.mark_failed(first.id, "w", true, "550 refused")
        .await
        .unwrap();
    let second = s.claim_outbox("w", lease).await.unwrap().unwrap();
    s.mark_sent(second.id, "w").await.unwrap();
    assert_eq!(s.list_outbox(None, 1).await.unwrap()[0].id, outbox_ids[2]);
    let ids_in = |v: Vec<facteur_store::OutboxItem>| v.iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(
        ids_in(
            s.list_outbox_in_state(OutboxState::Failed, 1)
                .await
                .unwrap()
        ),
        vec![outbox_ids[0]]
    );
    assert_eq!(
        ids_in(s.list_outbox_in_state(OutboxState::Sent, 5).await.unwrap()),
        vec![outbox_ids[1]]
    );
    assert_eq!(
        ids_in(
            s.list_outbox_in_state(OutboxState::Queued, 5)
                .await
                .unwrap()
        ),
        vec![outbox_ids[2]]
    );
    assert!(s
        .list_outbox_in_state(OutboxState::Sending, 5)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn sync_position_upserts_per_mailbox_and_folder() {
    let db = test_store().await;
    let s = &db.store;
    let a = mailbox(s, "a").await;
    let b = mailbox(s, "b").await;
    assert_eq!(s.get_sync_position(a, "INBOX").await.unwrap(), None);
    s.set_sync_position(a, "INBOX", 7, 42).await.unwrap();
    s.set_sync_position(a, "Archives/été", u32::MAX, u32::MAX)
        .await
        .unwrap();
    s.set_sync_position(a, "INBOX", 7, 43).await.unwrap();
    assert_eq!(
        s.get_sync_position(a, "INBOX").await.unwrap(),
        Some((7, 43))
    );
    assert_eq!(
        s.get_sync_position(a, "Archives/été").await.unwrap(),
        Some((u32::MAX, u32::MAX))
    );
    assert_eq!(s.get_sync_position(b, "INBOX").await.unwrap(), None);
    s.clear_sync_position(a, "INBOX").await.unwrap();
    assert_eq!(s.get_sync_position(a, "INBOX").await.unwrap(), None);
    // Shared by every handle on the database (other processes).
    let other = Store::open(&db.url).await.unwrap();
    assert_eq!(
        other.get_sync_position(a, "Archives/été").await.unwrap(),
        Some((u32::MAX, u32::MAX))
    );
}

#[tokio::test]
async fn handoff_marker_is_for_the_lease_holder_and_cleared_by_known_failures() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "a").await;
    let sup = user(s, "sup", Role::Supervisor).await;
    let m = s.insert_message(&msg(mb, 1)).await.unwrap().id();
    let o = s
        .validate_and_queue(&reply(m, sup, "<r1@x>"))
        .await
        .unwrap();
    let lease = Duration::from_secs(60);
    assert_eq!(s.get_outbox(o).await.unwrap().unwrap().handed_off_at, None);
    // Not claimed yet: nobody holds the lease.
    assert!(s
        .mark_outbox_handed_off(o, "w1")
        .await
        .unwrap_err()
        .is_conflict());

    s.claim_outbox("w1", lease).await.unwrap().unwrap();
    let err = s.mark_outbox_handed_off(o, "w2").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    s.mark_outbox_handed_off(o, "w1").await.unwrap();
    let t = db.clock_now();
    assert_eq!(
        s.get_outbox(o).await.unwrap().unwrap().handed_off_at,
        Some(t)
    );

    // Uncertain outcome: retried later, marker kept so the retry reconciles.
    s.mark_send_uncertain(o, "w1", "connection reset after the dot")
        .await
        .unwrap();
    let row = s.get_outbox(o).await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.handed_off_at),
        (OutboxState::Failed, Some(t))
    );
    db.clock.advance(Duration::from_secs(31));
    let again = s.claim_outbox("w2", lease).await.unwrap().unwrap();
    assert_eq!(
        again.handed_off_at,
        Some(t),
        "the next claimer sees the marker"
    );

    // A known SMTP reply clears it.
    s.mark_outbox_handed_off(o, "w2").await.unwrap();
    s.mark_failed(o, "w2", false, "451 try later")
        .await
        .unwrap();
    let row = s.get_outbox(o).await.unwrap().unwrap();
    assert_eq!((row.state, row.handed_off_at), (OutboxState::Failed, None));
    assert!(row.next_attempt_at.is_some());

    // Expired lease taken over: the old holder can no longer set the marker.
    db.clock.advance(Duration::from_secs(3600));
    s.claim_outbox("w3", lease).await.unwrap().unwrap();
    db.clock.advance(Duration::from_secs(61));
    s.claim_outbox("w4", lease).await.unwrap().unwrap();
    assert!(s
        .mark_outbox_handed_off(o, "w3")
        .await
        .unwrap_err()
        .is_conflict());
    s.mark_outbox_handed_off(o, "w4").await.unwrap();
    s.mark_sent(o, "w4").await.unwrap();
    let row = s.get_outbox(o).await.unwrap().unwrap();
    assert_eq!(row.state, OutboxState::Sent);
    assert!(row.handed_off_at.is_some());
    assert!(s.verify_audit().await.unwrap().ok);
}

#[tokio::test]
async fn delivery_confirmation_is_found_by_reply_id_and_guards_the_marker() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "a").await;
    let sup = user(s, "sup", Role::Supervisor).await;
    let m1 = s.insert_message(&msg(mb, 1)).await.unwrap().id();
    let m2 = s.insert_message(&msg(mb, 2)).await.unwrap().id();
    let o1 = s
        .validate_and_queue(&reply(m1, sup, "<r1@x>"))
        .await
        .unwrap();
    let o2 = s.validate_and_queue(&reply(m2, sup, "r2@x")).await.unwrap();
    // Found whichever way the id is written, on either side.
    for (q, want) in [("r1@x", o1), ("<r1@x>", o1), (" <r2@x> ", o2), ("r2@x", o2)] {
        assert_eq!(
            s.find_outbox_by_reply_id(q).await.unwrap().map(|o| o.id),
            Some(want),
            "{q}"
        );
    }
    assert!(s.find_outbox_by_reply_id("r3@x").await.unwrap().is_none());
    assert!(s.find_outbox_by_reply_id("<>").await.unwrap().is_none());

    // A handed-off reply with no proof of delivery: the holder may clear the marker.
    let lease = Duration::from_secs(60);
    let c = s.claim_outbox("w1", lease).await.unwrap().unwrap();
    assert_eq!(c.id, o1);
    s.mark_outbox_handed_off(o1, "w1").await.unwrap();
    assert!(s
        .clear_outbox_hand_off(o1, "w2", "no copy")
        .await
        .unwrap_err()
        .is_conflict());
    s.clear_outbox_hand_off(o1, "w1", "no copy after 300 s")
        .await
        .unwrap();
    assert_eq!(s.get_outbox(o1).await.unwrap().unwrap().handed_off_at, None);

    // Confirmation is recorded once, and then the marker can no longer be cleared.
    s.mark_outbox_handed_off(o1, "w1").await.unwrap();
    assert!(s
        .confirm_outbox_delivery(o1, "imap:a", "INBOX")
        .await
        .unwrap());
    assert!(!s
        .confirm_outbox_delivery(o1, "imap:a", "INBOX")
        .await
        .unwrap());
    let row = s.get_outbox(o1).await.unwrap().unwrap();
    assert_eq!(row.delivery_confirmed_at, Some(db.clock_now()));
    assert!(s
        .clear_outbox_hand_off(o1, "w1", "no copy")
        .await
        .unwrap_err()
        .is_conflict());
    assert!(row.handed_off_at.is_some());
    let confirmations = raw_count(
        &db,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'outbox.delivery_confirmed'",
    )
    .await;
    assert_eq!(confirmations, 1);
    assert_eq!(
        raw_count(
            &db,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'outbox.not_delivered'"
        )
        .await,
        1
    );
    assert!(s.verify_audit().await.unwrap().ok);
}

#[tokio::test]
async fn jobs_enqueue_idempotent_claim_complete_fail_and_take_over() {
    let db = test_store().await;
    let s = &db.store;
    let lease = Duration::from_secs(30);
    let j1 = s
        .enqueue_job("triage", "message:1", &json!({"message": 1}))
        .await
        .unwrap();
    assert!(matches!(j1, InsertOutcome::Inserted(_)));
    assert_eq!(
        s.enqueue_job("triage", "message:1", &json!({"other": true}))
            .await
            .unwrap(),
        InsertOutcome::Duplicate(j1.id())
    );
    let j2 = s
        .enqueue_job("ingest", "message:1", &json!({}))
        .await
        .unwrap();
    assert!(
        matches!(j2, InsertOutcome::Inserted(_)),
        "same key, other kind"
    );

    assert!(s.claim_job(&["send"], "w1", lease).await.unwrap().is_none());
    assert!(s.claim_job(&[], "w1", lease).await.unwrap().is_none());
    let c = s
        .claim_job(&["triage"], "w1", lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c.id, c.state, c.attempts), (j1.id(), JobState::Running, 1));
    assert_eq!(c.payload, json!({"message": 1}), "first payload kept");
    assert_eq!(c.lease_until, Some(db.clock_now() + 30_000));
    assert!(s
        .claim_job(&["triage"], "w2", lease)
        .await
        .unwrap()
        .is_none());

    // w1 dies; once its lease expires, w2 takes the job over; w1 cannot finish it.
    db.clock.advance(Duration::from_secs(31));
    let t = s
        .claim_job(&["triage"], "w2", lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (t.id, t.attempts, t.lease_owner.as_deref()),
        (j1.id(), 2, Some("w2"))
    );
    assert!(s
        .complete_job(j1.id(), "w1")
        .await
        .unwrap_err()
        .is_conflict());
    assert!(s
        .fail_job(j1.id(), "w1", None, "x")
        .await
        .unwrap_err()
        .is_conflict());

    // Retryable failure: not claimable before retry_at.
    let retry_at = db.clock_now() + 10_000;
    s.fail_job(j1.id(), "w2", Some(retry_at), "classifier busy")
        .await
        .unwrap();
    let f = s.get_job(j1.id()).await.unwrap().unwrap();
    assert_eq!((f.state, f.run_at), (JobState::Queued, retry_at));
    assert_eq!(f.last_error.as_deref(), Some("classifier busy"));
    assert!(s
        .claim_job(&["triage"], "w2", lease)
        .await
        .unwrap()
        .is_none());
    db.clock.advance(Duration::from_secs(11));
    let c = s
        .claim_job(&["ingest", "triage"], "w2", lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.id, j2.id(), "oldest due first (ingest ran at T0)");
    s.complete_job(c.id, "w2").await.unwrap();
    let c = s
        .claim_job(&["ingest", "triage"], "w2", lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c.id, c.attempts), (j1.id(), 3));
    s.complete_job(c.id, "w2").await.unwrap();
    assert_eq!(
        s.get_job(j1.id()).await.unwrap().unwrap().state,
        JobState::Done
    );
    db.clock.advance(Duration::from_secs(3600));
    assert!(s
        .claim_job(&["ingest", "triage"], "w3", lease)
        .await
        .unwrap()
        .is_none());
    // Re-enqueueing done work is a no-op.
    assert_eq!(
        s.enqueue_job("triage", "message:1", &json!({}))
            .await
            .unwrap(),
        InsertOutcome::Duplicate(j1.id())
    );
    assert!(s
        .claim_job(&["triage"], "w3", lease)
        .await
        .unwrap()
        .is_none());

    // Permanent failure stays failed.
    let j3 = s.enqueue_job("send", "o:1", &json!({})).await.unwrap().id();
    s.claim_job(&["send"], "w3", lease).await.unwrap().unwrap();
    s.fail_job(j3, "w3", None, "bad address").await.unwrap();
    db.clock.advance(Duration::from_secs(24 * 3600));
    assert!(s.claim_job(&["send"], "w3", lease).await.unwrap().is_none());
    assert_eq!(
        s.get_job(j3).await.unwrap().unwrap().state,
        JobState::Failed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_concurrent_job_claimers_never_share_a_job() {
    let db = test_store().await;
    let s = &db.store;
    const N: usize = 60;
    for n in 0..N {
        s.enqueue_job("triage", &format!("message:{n}"), &json!({"n": n}))
            .await
            .unwrap();
    }
    let mut handles = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let me = format!("w{w}");
            let mut got = Vec::new();
            while let Some(job) = s
                .claim_job(&["triage"], &me, Duration::from_secs(60))
                .await
                .unwrap()
            {
                // Another claimer that got the same job would fail here.
                s.complete_job(job.id, &me).await.unwrap();
                got.push(job.id);
                tokio::task::yield_now().await;
            }
            got
        }));
    }
    let mut all = Vec::new();
    let mut per_worker = Vec::new();
    for h in handles {
        let got = h.await.unwrap();
        per_worker.push(got.len());
        all.extend(got);
    }
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!(
        (n, all.len()),
        (N, N),
        "each job claimed exactly once: {per_worker:?}"
    );
}

#[tokio::test]
async fn one_mailbox_syncer_at_a_time_and_takeover_after_expiry() {
    let db = test_store().await;
    let s = &db.store;
    let a = mailbox(s, "a").await;
    let b = mailbox(s, "b").await;
    let lease = Duration::from_secs(60);
    assert!(s.try_lease_mailbox_sync(a, "host1", lease).await.unwrap());
    assert!(
        !s.try_lease_mailbox_sync(a, "host2", lease).await.unwrap(),
        "standby"
    );
    assert!(
        s.try_lease_mailbox_sync(b, "host2", lease).await.unwrap(),
        "other mailbox"
    );
    assert!(
        s.try_lease_mailbox_sync(a, "host1", lease).await.unwrap(),
        "holder re-leases"
    );

    db.clock.advance(Duration::from_secs(50));
    assert!(s.renew_mailbox_sync(a, "host1", lease).await.unwrap());
    db.clock.advance(Duration::from_secs(50));
    assert!(
        !s.try_lease_mailbox_sync(a, "host2", lease).await.unwrap(),
        "renewed"
    );

    // host1 dies: after expiry host2 takes over and host1's renewal fails.
    db.clock.advance(Duration::from_secs(11));
    assert!(s.try_lease_mailbox_sync(a, "host2", lease).await.unwrap());
    assert!(!s.renew_mailbox_sync(a, "host1", lease).await.unwrap());
    s.release_mailbox_sync(a, "host1").await.unwrap();
    assert!(
        !s.try_lease_mailbox_sync(a, "host3", lease).await.unwrap(),
        "not released by a non-holder"
    );
    s.release_mailbox_sync(a, "host2").await.unwrap();
    assert!(
        s.try_lease_mailbox_sync(a, "host3", lease).await.unwrap(),
        "released: free at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mailbox_leases_have_one_winner() {
    let db = test_store().await;
    let s = &db.store;
    let a = mailbox(s, "a").await;
    let mut handles = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.try_lease_mailbox_sync(a, &format!("w{w}"), Duration::from_secs(60))
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for h in handles {
        winners += usize::from(h.await.unwrap());
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn copy_sqlite_store_to_the_test_backend_keeps_ids_and_audit_chain() {
    // Source: always SQLite. Target: PostgreSQL when FACTEUR_TEST_PG_URL is set.
    let src_db = db::sqlite(T0).await;
    let src = src_db.store.clone();
    let clock = src_db.clock.clone();
    let sup = user(&src, "sup", Role::Supervisor).await;
    let agent = user(&src, "agent", Role::Agent).await;
    // Ids with gaps, so a copy that renumbers would be caught.
    let _gone = mailbox(&src, "gone").await;
    let mb = mailbox(&src, "sip-paris").await;
    src.set_mailbox_access(agent, mb, true, Some(sup))
        .await
        .unwrap();
    src.create_session("tok", agent, "csrf", Duration::from_secs(600))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..450 {
        let mut m = msg(mb, n);
        m.raw = [
            b"Subject: \xe9t\xe9\r\n\r\n".as_slice(),
            &n.to_le_bytes(),
            &[0u8, 255],
        ]
        .concat();
        ids.push(src.insert_message(&m).await.unwrap().id());
    }
    triage(&src, ids[0], Route::ReadyToValidate, "paiement", 0.91).await;
    triage(&src, ids[1], Route::ReadyToValidate, "paiement", 0.5).await;
    let o = src
        .validate_and_queue(&reply(ids[0], agent, "<r@x>"))
        .await
        .unwrap();
    src.claim_outbox("w1", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    src.mark_outbox_handed_off(o, "w1").await.unwrap();
    src.create_answer_version(&NewAnswerVersion {
        answer_id: "a1".into(),
        title: "Titre".into(),
        language: "fr".into(),
        content: "Réponse « type »".into(),
        valid_from: Some("2025-01-01".into()),
        valid_until: None,
        author_id: Some(sup),
    })
    .await
    .unwrap();
    src.create_model_version("m-1", &json!({"f1": 0.8}), Some(sup))
        .await
        .unwrap();
    src.promote_model("m-1", sup).await.unwrap();
    src.enqueue_job("triage", "message:2", &json!({"m": 2}))
        .await
        .unwrap();
    src.set_sync_position(mb, "INBOX", 9, 449).await.unwrap();
    src.try_lease_mailbox_sync(mb, "host1", Duration::from_secs(60))
        .await
        .unwrap();
    src.audit("user:1", "export", "mailbox:2", &json!({"n": 1}))
        .await
        .unwrap();

    let db = test_store().await;
    let report = src.copy_to(&db.store).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert!(report.target_audit.ok);
    let count = |t: &str| report.tables.iter().find(|c| c.table == t).unwrap().target;
    assert_eq!(count("messages"), 450);
    assert_eq!(count("mailboxes"), 2);
    assert!(count("audit_log") >= 8);

    // Every application table of the live schema is copied…
    let mut live = live_names(
        &db,
        "SELECT tablename::TEXT FROM pg_tables WHERE schemaname = 'public'",
        "SELECT name FROM sqlite_master WHERE type = 'table'",
        None,
    )
    .await;
    live.retain(|t| !t.starts_with("_sqlx") && !t.starts_with("sqlite_"));
    live.sort();
    let mut copied: Vec<String> = facteur_store::copied_tables()
        .iter()
        .map(|s| s.to_string())
        .collect();
    copied.sort();
    assert_eq!(live, copied);
    // …with every column.
    for (table, cols) in facteur_store::copied_columns() {
        let mut live = live_names(
            &db,
            "SELECT column_name::TEXT FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1",
            "SELECT name FROM pragma_table_info($1)",
            Some(table),
        )
        .await;
        live.sort();
        let mut cols: Vec<String> = cols.iter().map(|c| c.to_string()).collect();
        cols.sort();
        assert_eq!(live, cols, "columns of {table}");
    }

    let t = db.store.clone().with_clock(clock.clone());
    // The classify text (migration 0008) travels with the message.
    assert_eq!(
        t.get_message(ids[0])
            .await
            .unwrap()
            .unwrap()
            .classify_text
            .as_deref(),
        Some("question\nBonjour [NOM_1]")
    );
    for &id in [ids[0], ids[449]].iter() {
        assert_eq!(
            t.get_message(id).await.unwrap(),
            src.get_message(id).await.unwrap()
        );
        assert_eq!(t.get_raw(id).await.unwrap(), src.get_raw(id).await.unwrap());
    }
    assert_eq!(
        t.get_outbox(o).await.unwrap(),
        src.get_outbox(o).await.unwrap()
    );
    assert_eq!(
        t.latest_triage(ids[0]).await.unwrap(),
        src.latest_triage(ids[0]).await.unwrap()
    );
    assert_eq!(
        t.list_audit(0, 1000).await.unwrap(),
        src.list_audit(0, 1000).await.unwrap()
    );
    assert_eq!(
        t.get_sync_position(mb, "INBOX").await.unwrap(),
        Some((9, 449))
    );
    assert_eq!(t.active_model().await.unwrap().unwrap().id, "m-1");
    assert_eq!(
        t.list_users().await.unwrap(),
        src.list_users().await.unwrap()
    );
    assert!(t.get_session("tok").await.unwrap().is_some());
    assert!(!t
        .try_lease_mailbox_sync(mb, "host2", Duration::from_secs(1))
        .await
        .unwrap());

    // Sequences continue after the copied ids; the chain keeps growing on the target.
    let next = t.insert_message(&msg(mb, 10_000)).await.unwrap().id();
    assert_eq!(next, ids[449] + 1);
    let mb3 = mailbox(&t, "third").await;
    assert_eq!(mb3, mb + 1);
    assert!(t.verify_audit().await.unwrap().ok);

    // A non-empty target is refused.
    assert!(src.copy_to(&t).await.unwrap_err().is_conflict());
}

/// Issue 19: a bounce marks a sent reply "undelivered" once (audited with the
/// status only), and a reply to an address whose last mail was automatic is
/// refused until an agent confirms.
#[tokio::test]
async fn bounces_mark_replies_undelivered_and_auto_replies_guard_the_outbox() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "a").await;
    let agent = user(s, "agent", Role::Supervisor).await;
    let m1 = s.insert_message(&msg(mb, 1)).await.unwrap().id();
    let m2 = s.insert_message(&msg(mb, 2)).await.unwrap().id();
    let o1 = s
        .validate_and_queue(&reply(m1, agent, "r1@x"))
        .await
        .unwrap();
    let bounce = s
        .insert_message(&NewMessage {
            from_address: Some("mailer-daemon@relay.example".into()),
            ..msg(mb, 3)
        })
        .await
        .unwrap()
        .id();
    triage(s, bounce, Route::Automatic, "none", 0.0).await;
    assert_eq!(
        s.get_message(bounce).await.unwrap().unwrap().state,
        MessageState::Automatic
    );
    // A queued reply never left: nothing to mark.
    assert!(!s
        .mark_outbox_undelivered(o1, Some("5.1.1"), Some("550 [EMAIL_1] unknown"), bounce)
        .await
        .unwrap());
    let c = s
        .claim_outbox("w1", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.id, o1);
    s.mark_sent(o1, "w1").await.unwrap();
    assert!(s
        .mark_outbox_undelivered(o1, Some("5.1.1"), Some("550 [EMAIL_1] unknown"), bounce)
        .await
        .unwrap());
    assert!(!s
        .mark_outbox_undelivered(o1, Some("5.1.1"), Some("again"), bounce)
        .await
        .unwrap());
    let row = s.get_outbox(o1).await.unwrap().unwrap();
    assert_eq!(row.state, OutboxState::Undelivered);
    let u = row.undelivered.unwrap();
    assert_eq!(u.status.as_deref(), Some("5.1.1"));
    assert_eq!(u.diagnostic.as_deref(), Some("550 [EMAIL_1] unknown"));
    assert_eq!(u.bounce_message, Some(bounce));
    assert_eq!(s.outbox_count(OutboxState::Undelivered).await.unwrap(), 1);
    assert_eq!(
        raw_count(
            &db,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'outbox.undelivered'"
        )
        .await,
        1
    );

    // The citizen's out-of-office arrives: the next reply to them waits for a person.
    assert!(!s
        .last_mail_from_is_automatic("citoyen@example.test")
        .await
        .unwrap());
    let ooo = s.insert_message(&msg(mb, 4)).await.unwrap().id();
    triage(s, ooo, Route::Automatic, "none", 0.0).await;
    assert!(s
        .last_mail_from_is_automatic("Citoyen@Example.test")
        .await
        .unwrap());
    match s.validate_and_queue(&reply(m2, agent, "r2@x")).await {
        Err(StoreError::RecipientAutomatic { .. }) => {}
        other => panic!("queued a reply to an auto-responder: {other:?}"),
    }
    assert_eq!(
        s.get_message(m2).await.unwrap().unwrap().state,
        MessageState::New
    );
    let o2 = s
        .validate_and_queue_confirmed(&reply(m2, agent, "r2@x"))
        .await
        .unwrap();
    assert!(s.get_outbox(o2).await.unwrap().is_some());
    let confirmed = s.list_actions(m2).await.unwrap();
    assert!(confirmed
        .iter()
        .any(|a| a.after["confirmed_automatic_recipient"] == json!(true)));
    assert!(s.verify_audit().await.unwrap().ok);
}

/// Issue 17, undo send: a reply waits its send delay in the outbox, out of every
/// sender's reach; taken back during it, the row goes and the message returns
/// to its state with the text in the action row (not in the audit log). After
/// the delay, or once a sender holds it, it is too late.
#[tokio::test]
async fn a_reply_is_held_for_its_send_delay_and_taken_back_only_then() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "a").await;
    let agent = user(s, "agent", Role::Supervisor).await;
    let stranger = user(s, "stranger", Role::Agent).await;
    let m1 = s.insert_message(&msg(mb, 1)).await.unwrap().id();
    triage(s, m1, Route::ReadyToValidate, "rib", 0.9).await;
    let lease = Duration::from_secs(60);
    let held = |id: &str| ValidateReply {
        send_delay_ms: 30_000,
        ..reply(m1, agent, id)
    };
    s.validate_and_queue(&held("<h1@x>")).await.unwrap();
    assert!(s.claim_outbox("w", lease).await.unwrap().is_none(), "held");
    let err = s.cancel_send(m1, stranger).await.unwrap_err();
    assert!(matches!(err, StoreError::Forbidden { .. }), "{err}");

    let back = s.cancel_send(m1, agent).await.unwrap();
    assert_eq!(back.state, MessageState::ReadyToValidate);
    assert_eq!(back.body, reply(m1, agent, "x").body);
    assert!(s.get_outbox_for_message(m1).await.unwrap().is_none());
    let m = s.get_message(m1).await.unwrap().unwrap();
    assert_eq!(m.state, MessageState::ReadyToValidate);
    let undo = s
        .list_actions(m1)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.kind == "undo_send")
        .expect("an undo_send action");
    assert_eq!(undo.after["text"], json!(back.body));
    let audit = s.list_audit(0, 1000).await.unwrap();
    let row = audit
        .iter()
        .find(|r| r.action == "message.undo_send")
        .expect("audited");
    assert!(
        !row.details.to_string().contains("Voici la réponse"),
        "no text in the audit log"
    );
    assert!(s.verify_audit().await.unwrap().ok);

    // Validated again: after the delay it is due, and too late to take back.
    s.validate_and_queue(&held("<h2@x>")).await.unwrap();
    db.clock.advance(Duration::from_secs(31));
    let err = s.cancel_send(m1, agent).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidState { .. }), "{err}");
    let c = s.claim_outbox("w", lease).await.unwrap().expect("due");
    assert_eq!(c.message_id, m1);
    let err = s.cancel_send(m1, agent).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidState { .. }), "{err}");

    // Without a delay there is nothing to take back.
    let m2 = s.insert_message(&msg(mb, 2)).await.unwrap().id();
    triage(s, m2, Route::ReadyToValidate, "rib", 0.9).await;
    s.validate_and_queue(&reply(m2, agent, "<h3@x>"))
        .await
        .unwrap();
    let err = s.cancel_send(m2, agent).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidState { .. }), "{err}");
}

/// Issue 17, collisions: who has a message open is kept in the store (so every
/// node sees it), with the time they opened it, for a few minutes after their
/// last view.
#[tokio::test]
async fn viewers_are_shared_with_their_start_and_forgotten_after_a_while() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "a").await;
    let agnes = user(s, "agnes", Role::Agent).await;
    let bruno = user(s, "bruno", Role::Agent).await;
    let m = s.insert_message(&msg(mb, 1)).await.unwrap().id();
    s.record_view(m, agnes).await.unwrap();
    let t_agnes = db.clock_now();
    db.clock.advance(Duration::from_secs(60));
    s.record_view(m, bruno).await.unwrap();
    let seen_by_bruno = s.other_viewers(m, bruno).await.unwrap();
    assert_eq!(seen_by_bruno.len(), 1);
    assert_eq!(
        (seen_by_bruno[0].user_id, seen_by_bruno[0].since),
        (agnes, t_agnes)
    );
    assert_eq!(seen_by_bruno[0].display_name, "Agent agnes");
    // A reload keeps "since"; nobody else is listed to Agnès but Bruno.
    db.clock.advance(Duration::from_secs(60));
    s.record_view(m, agnes).await.unwrap();
    assert_eq!(s.other_viewers(m, bruno).await.unwrap()[0].since, t_agnes);
    let seen_by_agnes = s.other_viewers(m, agnes).await.unwrap();
    assert_eq!(seen_by_agnes.len(), 1);
    assert_eq!(seen_by_agnes[0].user_id, bruno);
    // Gone quiet for longer than the window: no longer listed, and a new view
    // starts afresh.
    db.clock
        .advance(Duration::from_millis(facteur_store::VIEW_TTL_MS as u64 + 1));
    assert!(s.other_viewers(m, bruno).await.unwrap().is_empty());
    s.record_view(m, agnes).await.unwrap();
    assert_eq!(
        s.other_viewers(m, bruno).await.unwrap()[0].since,
        db.clock_now()
    );
}

/// Issue 17, queue search: every word in the masked text or in what the
/// classifier read (subject included, personal data removed), never in the raw
/// subject; with a date range; still keyset-paged.
#[tokio::test]
async fn queue_search_matches_masked_text_words_and_dates_only() {
    let db = test_store().await;
    let s = &db.store;
    let mb = mailbox(s, "a").await;
    let texts = [
        (
            "Demande de délai de paiement pour [NOM_1]",
            "delai paiement",
        ),
        ("Changement de RIB, 100% urgent", "rib"),
        ("Question sur le délai de réclamation", "reclamation"),
        ("Mon avis d'impôt", "avis"),
    ];
    let mut ids = Vec::new();
    for (n, (text, classify)) in texts.iter().enumerate() {
        let mut m = msg(mb, n as u32 + 1);
        m.subject = format!("Jean Dupont {n}");
        let id = s.insert_message(&m).await.unwrap().id();
        s.record_triage(&NewTriage {
            message_id: id,
            model_version: None,
            category: None,
            confidence: None,
            route: Route::Abstain,
            answer_id: None,
            answer_version: None,
            draft_text: None,
            passages: Vec::new(),
            language: Some("fr".into()),
            pseudonymised_text: Some((*text).into()),
            subject_pseudonymised: None,
            classify_text: Some(format!("Sujet {classify}\n{text}")),
            pii_kinds: vec![],
            flags: vec![],
            candidates: Vec::new(),
            close_suggestion: None,
            citizen_ids: Vec::new(),
            attachment_texts: Vec::new(),
        })
        .await
        .unwrap();
        ids.push(id);
    }
    let q = |search: &str, received: Option<(i64, i64)>, page: QueuePage| QueueQuery {
        mailbox_ids: Some(vec![mb]),
        states: MessageState::ALL.to_vec(),
        search: Some(search.into()),
        received,
        page,
        limit: 1,
        ..Default::default()
    };
    let all = |search: &'static str, received| async move {
        let mut out = Vec::new();
        let mut page = QueuePage::First;
        loop {
            let rows = s.list_queue(&q(search, received, page)).await.unwrap();
            let Some(last) = rows.last() else { break };
            page = QueuePage::After(last.cursor);
            out.extend(rows.iter().map(|r| r.id));
        }
        out
    };
    assert_eq!(all("délai", None).await, vec![ids[0], ids[2]]);
    assert_eq!(all("DÉLAI paiement", None).await, vec![ids[0]]);
    assert_eq!(
        all("sujet rib", None).await,
        vec![ids[1]],
        "what the classifier read"
    );
    assert_eq!(all("100%", None).await, vec![ids[1]], "% is a literal");
    assert!(
        all("dupont", None).await.is_empty(),
        "never the raw subject"
    );
    // Received in [T0 + 2 s, T0 + 4 s): messages 2 and 3.
    let range = Some((T0 + 2000, T0 + 4000));
    assert_eq!(all("", range).await, vec![ids[1], ids[2]]);
    assert_eq!(all("délai", range).await, vec![ids[2]]);
}

/// Issue 19, ingest speed: a batch is stored, triaged and its jobs completed with
/// one commit each, and gives the outcomes a message-by-message run would: a
/// duplicate inside the batch is recognised, a message gone or closed is refused
/// without costing the others their triage, the audit chain has one row per
/// recorded triage and verifies, and jobs are claimed oldest first without
/// giving the same job twice.
#[tokio::test]
async fn batches_store_triage_and_complete_as_one_by_one_would() {
    let db = test_store().await;
    // Keyed, as a service is: citizen hashes are kept and the chain is keyed.
    let s = &db.store.clone().with_audit_key(facteur_store::AuditKey {
        key: [7; 32],
        unkeyed_until: 0,
    });
    let mb = mailbox(s, "a").await;
    let batch = vec![msg(mb, 1), msg(mb, 2), msg(mb, 1), msg(mb, 3)];
    let out = s.insert_messages(&batch).await.unwrap();
    let ids: Vec<i64> = out.iter().map(|o| o.id()).collect();
    assert!(matches!(out[0], InsertOutcome::Inserted(_)));
    assert!(matches!(out[1], InsertOutcome::Inserted(_)));
    assert_eq!(out[2], InsertOutcome::Duplicate(ids[0]));
    assert!(matches!(out[3], InsertOutcome::Inserted(_)));
    // Stored again, the whole batch is duplicates.
    let again = s.insert_messages(&batch).await.unwrap();
    assert!(again
        .iter()
        .all(|o| matches!(o, InsertOutcome::Duplicate(_))));
    assert_eq!(s.count_messages(Some(mb)).await.unwrap(), 3);

    // Message 3 is closed before its batch triage; 999 does not exist.
    triage(s, ids[3], Route::ReadyToValidate, "rib", 0.9).await;
    let agent = user(s, "agent", Role::Supervisor).await;
    s.validate_and_queue(&reply(ids[3], agent, "<r3@x>"))
        .await
        .unwrap();
    let audit_before = s.verify_audit().await.unwrap().rows;
    let scan = facteur_core::AttachmentText {
        filename: Some("rib.pdf".into()),
        content_type: "application/pdf".into(),
        method: Some(facteur_core::ExtractMethod::PdfText),
        pages: 1,
        text: "IBAN [IBAN_1]".into(),
        truncated: false,
        failure: None,
    };
    let t = |id: i64| NewTriage {
        category: Some("rib".into()),
        route: Route::NeedsResearch,
        citizen_ids: vec!["citoyen@example.test".into()],
        attachment_texts: vec![scan.clone()],
        ..triage_record(id)
    };
    let recorded = s
        .record_triages(&[t(ids[0]), t(999_999), t(ids[3]), t(ids[1])])
        .await
        .unwrap();
    assert!(recorded[0].is_ok());
    assert!(
        matches!(recorded[1], Err(StoreError::NotFound { .. })),
        "{:?}",
        recorded[1]
    );
    assert!(
        matches!(recorded[2], Err(StoreError::InvalidState { .. })),
        "{:?}",
        recorded[2]
    );
    assert!(recorded[3].is_ok());
    for id in [ids[0], ids[1]] {
        let m = s.get_message(id).await.unwrap().unwrap();
        assert_eq!(m.state, MessageState::NeedsResearch);
        assert_eq!(
            s.latest_triage(id)
                .await
                .unwrap()
                .unwrap()
                .category
                .as_deref(),
            Some("rib")
        );
    }
    // The attachment texts went in with the recorded triages, in the same
    // transaction; the refused ones wrote none.
    for id in [ids[0], ids[1]] {
        assert_eq!(
            s.attachment_texts(id).await.unwrap(),
            std::slice::from_ref(&scan)
        );
    }
    assert!(s.attachment_texts(ids[3]).await.unwrap().is_empty());
    // The two recorded triages link the same citizen.
    let same = s.same_citizen(ids[0], 86_400_000).await.unwrap();
    assert_eq!(same.iter().map(|m| m.id).collect::<Vec<_>>(), [ids[1]]);
    let report = s.verify_audit().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.rows, audit_before + 2);
    // A later triage that read no attachment keeps them.
    s.record_triage(&triage_record(ids[0])).await.unwrap();
    assert_eq!(
        s.attachment_texts(ids[0]).await.unwrap(),
        std::slice::from_ref(&scan)
    );

    // Jobs: claimed oldest first in batches, never twice, completed together.
    for i in 0..5 {
        s.enqueue_job("triage", &i.to_string(), &json!({}))
            .await
            .unwrap();
    }
    let lease = Duration::from_secs(60);
    let first = s.claim_jobs(&["triage"], "w1", lease, 3).await.unwrap();
    let second = s.claim_jobs(&["triage"], "w2", lease, 3).await.unwrap();
    let keys = |js: &[facteur_store::Job]| js.iter().map(|j| j.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&first), ["0", "1", "2"]);
    assert_eq!(keys(&second), ["3", "4"]);
    let first_ids: Vec<i64> = first.iter().map(|j| j.id).collect();
    // w2 does not hold w1's jobs: nothing of them is completed by it.
    assert!(s.complete_jobs(&first_ids, "w2").await.unwrap().is_empty());
    let mut done = s.complete_jobs(&first_ids, "w1").await.unwrap();
    done.sort_unstable();
    assert_eq!(done, first_ids);
    assert!(s
        .claim_jobs(&["triage"], "w3", lease, 3)
        .await
        .unwrap()
        .is_empty());
}
