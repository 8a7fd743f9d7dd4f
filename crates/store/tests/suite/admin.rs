//! What administrators change: the last active administrator stays, and a
//! mailbox's signature and settings are saved and audited. On SQLite, and on
//! PostgreSQL when FACTEUR_TEST_PG_URL is set.

use facteur_core::Role;
use facteur_store::{MailboxUpdate, NewMailbox, StoreError};

use crate::store::user;
use facteur_testkit::db;
use serde_json::json;

const T0: i64 = 1_750_000_000_000;

#[tokio::test]
async fn the_last_active_administrator_cannot_be_removed() {
    for tdb in db::backends("facteur_admins", T0).await {
        let s = &tdb.store;
        let first = user(s, "ada", Role::Admin).await;
        let agent = user(s, "paul", Role::Agent).await;
        // Alone: neither deactivated nor demoted.
        assert!(matches!(
            s.update_user(first, Role::Admin, false, None).await,
            Err(StoreError::LastAdmin { .. })
        ));
        assert!(matches!(
            s.update_user(first, Role::Supervisor, true, None).await,
            Err(StoreError::LastAdmin { .. })
        ));
        // Other accounts change freely.
        s.update_user(agent, Role::Agent, false, Some(first))
            .await
            .unwrap();
        // With a second administrator, the first may go, and comes back.
        let second = user(s, "bea", Role::Admin).await;
        s.update_user(first, Role::Admin, false, Some(second))
            .await
            .unwrap();
        assert!(matches!(
            s.update_user(second, Role::Admin, false, None).await,
            Err(StoreError::LastAdmin { .. })
        ));
        s.update_user(first, Role::Admin, true, Some(second))
            .await
            .unwrap();
        assert!(s.get_user(first).await.unwrap().unwrap().active);
    }
}

#[tokio::test]
async fn a_mailbox_signature_and_settings_are_saved_and_audited() {
    for tdb in db::backends("facteur_mailbox_edit", T0).await {
        let s = &tdb.store;
        let mb = s
            .create_mailbox(
                &NewMailbox {
                    name: "sip".into(),
                    address: "sip@dgfip.example".into(),
                    signature: "Le service".into(),
                    settings: json!({}),
                },
                None,
            )
            .await
            .unwrap();
        let m = s.get_mailbox(mb).await.unwrap().unwrap();
        assert_eq!((m.send_delay_seconds(), m.imap_folder()), (None, None));
        s.update_mailbox(
            mb,
            &MailboxUpdate {
                signature: "Le SIP de Lyon\nBureau 3".into(),
                send_delay_seconds: Some(120),
                imap_folder: Some("INBOX.Usagers".into()),
            },
            None,
        )
        .await
        .unwrap();
        let m = s.get_mailbox(mb).await.unwrap().unwrap();
        assert_eq!(m.signature, "Le SIP de Lyon\nBureau 3");
        assert_eq!(m.send_delay_seconds(), Some(120));
        assert_eq!(m.imap_folder(), Some("INBOX.Usagers"));
        // Back to the service's defaults.
        s.update_mailbox(
            mb,
            &MailboxUpdate {
                signature: "Le service".into(),
                send_delay_seconds: None,
                imap_folder: None,
            },
            None,
        )
        .await
        .unwrap();
        let m = s.get_mailbox(mb).await.unwrap().unwrap();
        assert_eq!((m.send_delay_seconds(), m.imap_folder()), (None, None));
        let audit = s.list_audit(0, 100).await.unwrap();
        assert_eq!(
            audit
                .iter()
                .filter(|r| r.action == "mailbox.update")
                .count(),
            2
        );
        assert!(matches!(
            s.update_mailbox(
                9_999,
                &MailboxUpdate {
                    signature: String::new(),
                    send_delay_seconds: None,
                    imap_folder: None
                },
                None
            )
            .await,
            Err(StoreError::NotFound { .. })
        ));
    }
}
