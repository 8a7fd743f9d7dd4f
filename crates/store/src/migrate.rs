//! Copy a whole store into another one (typically SQLite → PostgreSQL when a
//! site grows to several processes).
//!
//! Written here rather than with a generic dump tool because what must survive
//! is specific: ids (other rows and the audit log refer to them), the audit
//! chain's exact bytes (an auditor recomputes the hashes), and PostgreSQL
//! sequences moved past the copied ids so new rows do not collide. The table
//! list is explicit, in foreign-key order; a table added by a later migration
//! must be added here too (the test compares against the live schema).

use serde::Serialize;
use sqlx::Row;

use crate::error::{OpContext, StoreError, StoreResult};
use crate::{with_pool, AuditReport, Backend, BeginWrite, Store};

#[derive(Clone, Copy)]
enum Kind {
    /// 64-bit integer.
    I,
    F,
    T,
    B,
    Bool,
}

struct Table {
    name: &'static str,
    /// Column names and kinds; all read as nullable.
    cols: &'static [(&'static str, Kind)],
    order_by: &'static str,
    /// The BIGSERIAL column whose sequence must follow the copied ids.
    serial: Option<&'static str>,
}

use Kind::*;

/// Every application table, parents before children. `audit_head` (one row,
/// always present) is copied by update; `_sqlx_migrations` belongs to each side.
const TABLES: &[Table] = &[
    Table {
        name: "users",
        cols: &[
            ("id", I),
            ("username", T),
            ("display_name", T),
            ("password_hash", T),
            ("role", T),
            ("active", Bool),
            ("created_at", I),
        ],
        order_by: "id",
        serial: Some("id"),
    },
    Table {
        name: "mailboxes",
        cols: &[
            ("id", I),
            ("name", T),
            ("address", T),
            ("signature", T),
            ("settings", T),
            ("created_at", I),
            ("address_key", T),
        ],
        order_by: "id",
        serial: Some("id"),
    },
    Table {
        name: "user_mailboxes",
        cols: &[("user_id", I), ("mailbox_id", I)],
        order_by: "user_id, mailbox_id",
        serial: None,
    },
    Table {
        name: "sessions",
        cols: &[
            ("id", T),
            ("user_id", I),
            ("csrf_token", T),
            ("created_at", I),
            ("expires_at", I),
            ("last_seen_at", I),
        ],
        order_by: "id",
        serial: None,
    },
    // Single sign-on (migration 0013).
    Table {
        name: "user_identities",
        cols: &[
            ("issuer", T),
            ("subject", T),
            ("user_id", I),
            ("created_at", I),
            ("last_login_at", I),
        ],
        order_by: "issuer, subject",
        serial: None,
    },
    Table {
        name: "oidc_logins",
        cols: &[
            ("id", T),
            ("state", T),
            ("nonce", T),
            ("pkce_verifier", T),
            ("expires_at", I),
        ],
        order_by: "id",
        serial: None,
    },
    Table {
        name: "oidc_sessions",
        cols: &[("session_id", T), ("id_token", T)],
        order_by: "session_id",
        serial: None,
    },
    Table {
        name: "messages",
        cols: &[
            ("id", I),
            ("mailbox_id", I),
            ("message_id", T),
            ("content_hash", T),
            ("raw", B),
            ("subject", T),
            ("subject_pseudonymised", T),
            ("duplicate_of", I),
            ("from_name", T),
            ("from_address", T),
            ("date", T),
            ("received_at", I),
            ("thread_id", T),
            ("parsed", T),
            ("pseudonymised_text", T),
            ("classify_text", T),
            ("language", T),
            ("state", T),
            ("assigned_to", I),
            ("category", T),
            ("confidence", F),
            ("pii_kinds", T),
            ("flags", T),
            ("updated_at", I),
            ("raw_purged_at", I),
            ("content_purged_at", I),
        ],
        order_by: "id",
        serial: Some("id"),
    },
    Table {
        name: "triage_results",
        cols: &[
            ("id", I),
            ("message_id", I),
            ("model_version", T),
            ("category", T),
            ("confidence", F),
            ("route", T),
            ("answer_id", T),
            ("answer_version", I),
            ("draft_text", T),
            ("passages", T),
            ("created_at", I),
            ("candidates", T),
            ("close_suggestion", T),
        ],
        order_by: "id",
        serial: Some("id"),
    },
    Table {
        name: "attachment_texts",
        cols: &[
            ("message_id", I),
            ("position", I),
            ("filename", T),
            ("content_type", T),
            ("method", T),
            ("pages", I),
            ("text", T),
            ("truncated", I),
            ("failure", T),
        ],
        order_by: "message_id, position",
        serial: None,
    },
    Table {
        name: "citizen_keys",
        cols: &[("message_id", I), ("key_hash", T), ("received_at", I)],
        order_by: "message_id, key_hash",
        serial: None,
    },
    Table {
        name: "message_views",
        cols: &[
            ("message_id", I),
            ("user_id", I),
            ("since", I),
            ("seen_at", I),
        ],
        order_by: "message_id, user_id",
        serial: None,
    },
    Table {
        name: "agent_actions",
        cols: &[
            ("id", I),
            ("message_id", I),
            ("user_id", I),
            ("at", I),
            ("kind", T),
            ("before", T),
            ("after", T),
            ("model_version", T),
        ],
        order_by: "id",
        serial: Some("id"),
    },
    Table {
        name: "outbox",
        cols: &[
            ("id", I),
            ("message_id", I),
            ("reply_message_id", T),
            ("to_address", T),
            ("subject", T),
            ("in_reply_to", T),
            ("references_hdr", T),
            ("body", T),
            ("validated_by", I),
            ("validated_by_name", T),
            ("state", T),
            ("attempts", I),
            ("last_error", T),
            ("next_attempt_at", I),
            ("lease_owner", T),
            ("lease_until", I),
            ("sent_at", I),
            ("created_at", I),
            ("handed_off_at", I),
            ("delivery_confirmed_at", I),
            ("undelivered_at", I),
            ("undelivered_status", T),
            ("undelivered_diagnostic", T),
            ("undelivered_by_message", I),
        ],
        order_by: "id",
        serial: Some("id"),
    },
    Table {
        name: "answer_versions",
        cols: &[
            ("answer_id", T),
            ("version", I),
            ("status", T),
            ("title", T),
            ("language", T),
            ("content", T),
            ("valid_from", T),
            ("valid_until", T),
            ("author_id", I),
            ("created_at", I),
            ("submitted_at", I),
        ],
        order_by: "answer_id, version",
        serial: None,
    },
    Table {
        name: "model_versions",
        cols: &[
            ("id", T),
            ("created_at", I),
            ("status", T),
            ("metrics", T),
            ("trained_by", I),
            ("promoted_by", I),
            ("promoted_at", I),
            ("review_due", I),
            ("erasure_flagged_at", I),
        ],
        order_by: "id",
        serial: None,
    },
    Table {
        name: "audit_log",
        cols: &[
            ("seq", I),
            ("at", I),
            ("actor", T),
            ("action", T),
            ("target", T),
            ("details", T),
            ("prev_hash", T),
            ("hash", T),
        ],
        order_by: "seq",
        serial: None,
    },
    Table {
        name: "sync_positions",
        cols: &[
            ("mailbox_id", I),
            ("folder", T),
            ("uidvalidity", I),
            ("last_uid", I),
            ("updated_at", I),
        ],
        order_by: "mailbox_id, folder",
        serial: None,
    },
    Table {
        name: "jobs",
        cols: &[
            ("id", I),
            ("kind", T),
            ("key", T),
            ("payload", T),
            ("state", T),
            ("attempts", I),
            ("run_at", I),
            ("lease_owner", T),
            ("lease_until", I),
            ("last_error", T),
            ("created_at", I),
            ("updated_at", I),
        ],
        order_by: "id",
        serial: Some("id"),
    },
    Table {
        name: "mailbox_sync_leases",
        cols: &[("mailbox_id", I), ("owner", T), ("lease_until", I)],
        order_by: "mailbox_id",
        serial: None,
    },
    Table {
        name: "kill_switches",
        cols: &[
            ("scope_kind", T),
            ("scope_value", T),
            ("reason", T),
            ("set_by", I),
            ("set_at", I),
        ],
        order_by: "scope_kind, scope_value",
        serial: None,
    },
    Table {
        name: "training_exclusions",
        cols: &[
            ("example_id", I),
            ("reason", T),
            ("excluded_by", I),
            ("excluded_at", I),
        ],
        order_by: "example_id",
        serial: None,
    },
];

/// Names of the tables `copy_to` copies (tests check it against the schema).
pub fn copied_tables() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = TABLES.iter().map(|t| t.name).collect();
    v.push("audit_head");
    v.push("kb_revision");
    v
}

/// The columns `copy_to` copies, per row-copied table (tests check them against
/// the schema: a column added by a migration and left out here would be lost
/// in a copy).
pub fn copied_columns() -> Vec<(&'static str, Vec<&'static str>)> {
    TABLES
        .iter()
        .map(|t| (t.name, t.cols.iter().map(|(c, _)| *c).collect()))
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Val {
    I(Option<i64>),
    F(Option<f64>),
    T(Option<String>),
    B(Option<Vec<u8>>),
    Bool(Option<bool>),
}

/// Rows read per batch: bounded memory with large `raw` columns, and well under
/// both backends' bind-parameter limits (21 columns × 200).
const BATCH: i64 = 200;

/// Rows of one table on both sides of a copy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableCount {
    /// Table name.
    pub table: String,
    /// Rows in the source store after the copy.
    pub source: i64,
    /// Rows in the target store after the copy.
    pub target: i64,
}

/// What `copy_to` found once the copy was committed: the operator's go/no-go.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CopyReport {
    /// Row counts per copied table, in copy order.
    pub tables: Vec<TableCount>,
    /// `verify_audit` recomputed on the target.
    pub target_audit: AuditReport,
    /// Every count matches, the target chain verifies and ends on the source's head.
    pub ok: bool,
}

macro_rules! read_row {
    ($row:expr, $cols:expr, $op:expr) => {{
        let mut vals = Vec::with_capacity($cols.len());
        for (i, (_, kind)) in $cols.iter().enumerate() {
            let v = match kind {
                Kind::I => Val::I($row.try_get(i).op($op)?),
                Kind::F => Val::F($row.try_get(i).op($op)?),
                Kind::T => Val::T($row.try_get(i).op($op)?),
                Kind::B => Val::B($row.try_get(i).op($op)?),
                Kind::Bool => Val::Bool($row.try_get(i).op($op)?),
            };
            vals.push(v);
        }
        vals
    }};
}

impl Store {
    /// Copy every table of this store into `target`, which must be freshly
    /// migrated and empty. Ids and audit rows are copied byte for byte in one
    /// target transaction (all or nothing); PostgreSQL sequences are moved past
    /// the copied ids; then counts are compared table by table and the audit
    /// chain is verified on the target. Nothing must write to the source
    /// meanwhile (stop the services first).
    pub async fn copy_to(&self, target: &Store) -> StoreResult<CopyReport> {
        for t in TABLES {
            let n = target.count_table(t.name).await?;
            if n != 0 {
                return Err(StoreError::Conflict {
                    op: format!("copy store into target table {}", t.name),
                    detail: format!("target is not empty ({n} rows)"),
                });
            }
        }
        let (head_seq, head_hash): (i64, String) = with_pool!(self, p => {
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(p)
                .await
                .op(|| "read source audit head".to_string())?
        });

        // One row, always present, copied by update like audit_head.
        let kb_rev = self.kb_revision().await?;

        with_pool!(target, tp => {
            let mut tx = tp.begin_write().await.op(|| "begin copy transaction".to_string())?;
            for t in TABLES {
                let op = || format!("copy table {}", t.name);
                let cols = t.cols.iter().map(|c| c.0).collect::<Vec<_>>().join(", ");
                let select = format!(
                    "SELECT {cols} FROM {} ORDER BY {} LIMIT $1 OFFSET $2",
                    t.name, t.order_by
                );
                let mut offset = 0i64;
                loop {
                    let batch: Vec<Vec<Val>> = with_pool!(self, sp => {
                        let rows = sqlx::query(&select)
                            .bind(BATCH)
                            .bind(offset)
                            .fetch_all(sp)
                            .await
                            .op(op)?;
                        let mut out = Vec::with_capacity(rows.len());
                        for row in &rows {
                            out.push(read_row!(row, t.cols, op));
                        }
                        out
                    });
                    if batch.is_empty() {
                        break;
                    }
                    offset += batch.len() as i64;
                    let width = t.cols.len();
                    let values = crate::value_rows(width, batch.len());
                    let insert = format!("INSERT INTO {} ({cols}) VALUES {values}", t.name);
                    let mut q = sqlx::query(&insert);
                    for v in batch.into_iter().flatten() {
                        q = match v {
                            Val::I(x) => q.bind(x),
                            Val::F(x) => q.bind(x),
                            Val::T(x) => q.bind(x),
                            Val::B(x) => q.bind(x),
                            Val::Bool(x) => q.bind(x),
                        };
                    }
                    q.execute(&mut *tx).await.op(op)?;
                }
                if let (Some(col), Backend::Postgres) = (t.serial, target.backend()) {
                    // is_called = false: the next nextval() returns exactly MAX + 1.
                    sqlx::query(&format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', '{col}'), \
                         COALESCE((SELECT MAX({col}) FROM {0}), 0) + 1, false)",
                        t.name
                    ))
                    .execute(&mut *tx)
                    .await
                    .op(|| format!("reset sequence of {}", t.name))?;
                }
            }
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(head_seq)
                .bind(&head_hash)
                .execute(&mut *tx)
                .await
                .op(|| "copy audit head".to_string())?;
            sqlx::query("UPDATE kb_revision SET revision = $1 WHERE id = 1")
                .bind(kb_rev)
                .execute(&mut *tx)
                .await
                .op(|| "copy knowledge-base revision".to_string())?;
            tx.commit().await.op(|| "commit copy transaction".to_string())?;
        });

        let mut tables = Vec::with_capacity(TABLES.len());
        let mut ok = true;
        for t in TABLES {
            let source = self.count_table(t.name).await?;
            let tcount = target.count_table(t.name).await?;
            ok &= source == tcount;
            tables.push(TableCount {
                table: t.name.to_string(),
                source,
                target: tcount,
            });
        }
        let target_audit = target.verify_audit().await?;
        let target_head: String = with_pool!(target, p => {
            sqlx::query_scalar("SELECT hash FROM audit_head WHERE id = 1")
                .fetch_one(p)
                .await
                .op(|| "read target audit head".to_string())?
        });
        ok &= target_audit.ok && target_head == head_hash;
        tracing::info!(
            ok,
            tables = tables.len(),
            audit_rows = target_audit.rows,
            "store copied"
        );
        Ok(CopyReport {
            tables,
            target_audit,
            ok,
        })
    }

    pub(crate) async fn count_table(&self, table: &str) -> StoreResult<i64> {
        with_pool!(self, p => {
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(p)
                .await
                .op(|| format!("count rows of {table}"))
        })
    }
}
