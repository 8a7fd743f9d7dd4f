//! Replies as agents validate them and as the SMTP relay receives them: what the
//! crash, scale and arrival tests count to prove "sent exactly once".

use std::path::Path;

/// Message-IDs of the replies the SMTP server stored in its Maildir for addresses of
/// `to_domain` (each test sends to a domain of its own).
pub fn received_replies(maildir: &Path, to_domain: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(rd) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(bytes) = std::fs::read(e.path()) else {
                continue;
            };
            if !String::from_utf8_lossy(&bytes).contains(to_domain) {
                continue;
            }
            ids.push(facteur_mail::parse_message(&bytes).message_id);
        }
    }
    ids
}

/// An agent validates a reply to each of the `n` oldest messages of `mailbox`,
/// through the store as the web app does. `to_address` and `reply_id` say where each
/// reply goes and its stable Message-ID. Panics when the mailbox holds fewer.
/// `key_file`: the service's audit key, for a test that verifies the chain after
/// (the agent's creation is audited; without the key that row would be plain).
pub fn validate_replies(
    db_url: &str,
    key_file: Option<&Path>,
    mailbox: &str,
    n: usize,
    to_address: impl Fn(&facteur_store::Message) -> String,
    reply_id: impl Fn(i64) -> String,
) {
    use facteur_store::{NewUser, QueuePage, QueueQuery, QueueSort, Store, ValidateReply};
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = match key_file {
            Some(k) => keyed_store(db_url, k).await,
            None => Store::open(db_url).await.unwrap(),
        };
        let mailbox = store.get_mailbox_by_name(mailbox).await.unwrap().unwrap();
        let agent = store
            .create_user(
                &NewUser {
                    username: "agent".into(),
                    display_name: "Agent Test".into(),
                    password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                    role: facteur_core::workflow::Role::Agent,
                },
                None,
            )
            .await
            .unwrap();
        store
            .set_mailbox_access(agent, mailbox.id, true, None)
            .await
            .unwrap();
        // The queue is served in pages of at most 500.
        let mut rows = Vec::new();
        let mut page = QueuePage::First;
        while rows.len() < n {
            let got = store
                .list_queue(&QueueQuery {
                    mailbox_ids: Some(vec![mailbox.id]),
                    states: vec![],
                    category: None,
                    assigned_to: None,
                    search: None,
                    received: None,
                    sort: QueueSort::Age,
                    page,
                    limit: 500,
                })
                .await
                .unwrap();
            let Some(last) = got.last() else { break };
            page = QueuePage::After(last.cursor);
            rows.extend(got);
        }
        rows.truncate(n);
        assert_eq!(rows.len(), n, "messages in the queue of {}", mailbox.name);
        for r in rows {
            let m = store.get_message(r.id).await.unwrap().unwrap();
            store
                .validate_and_queue(&ValidateReply {
                    message_id: m.id,
                    user_id: agent,
                    body: format!("Bonjour,\nRéponse validée n° {}.\nCordialement", m.id),
                    reply_message_id: reply_id(m.id),
                    to_address: to_address(&m),
                    subject: format!("Re: {}", m.subject),
                    in_reply_to: Some(m.message_id.clone()),
                    references: vec![m.message_id.clone()],
                    send_delay_ms: 0,
                })
                .await
                .unwrap();
        }
        store.close().await;
    });
}

/// The store as the service opens it: with the audit key of its data folder
/// (a row appended without it would break the keyed chain, and the next
/// `serve` would rightly refuse to start).
pub async fn keyed_store(db: &str, key_file: &std::path::Path) -> facteur_store::Store {
    let t: toml::Table = toml::from_str(&std::fs::read_to_string(key_file).unwrap()).unwrap();
    let mut key = [0u8; 32];
    key.copy_from_slice(&hex::decode(t["key"].as_str().unwrap()).unwrap());
    facteur_store::Store::open(db)
        .await
        .unwrap()
        .with_audit_key(facteur_store::AuditKey {
            key,
            unkeyed_until: t["unkeyed_until"].as_integer().unwrap(),
        })
}
