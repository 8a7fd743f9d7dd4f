//! Messages: idempotent ingest, triage results, and every agent action, each in
//! one transaction with its action row and audit row.

use facteur_core::{
    AgentActionKind, CloseReason, EscalationReason, MailSummary, MessageState, RejectReason, Route,
};
use serde_json::{json, Value};

use crate::audit::{audit_append, audit_append_many};
use crate::error::{OpContext, StoreError, StoreResult};
use crate::people::ACCESS_SQL;
use crate::types::{conf_in, conf_out, parse_json};
use crate::{placeholders, value_rows};
use crate::{
    with_pool, ActionRecord, BeginWrite, InsertOutcome, Message, NewMessage, NewTriage, Store,
    TriageResult, ValidateReply,
};

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    mailbox_id: i64,
    message_id: String,
    content_hash: String,
    subject: String,
    subject_pseudonymised: Option<String>,
    duplicate_of: Option<i64>,
    from_name: Option<String>,
    from_address: Option<String>,
    date: Option<String>,
    received_at: i64,
    thread_id: Option<String>,
    parsed: String,
    pseudonymised_text: String,
    classify_text: Option<String>,
    language: Option<String>,
    state: String,
    assigned_to: Option<i64>,
    category: Option<String>,
    confidence: f64,
    pii_kinds: String,
    flags: String,
    updated_at: i64,
}

const MESSAGE_COLS: &str = "id, mailbox_id, message_id, content_hash, subject, subject_pseudonymised, duplicate_of, from_name, \
    from_address, date, received_at, thread_id, parsed, pseudonymised_text, classify_text, \
    language, state, assigned_to, category, confidence, pii_kinds, flags, updated_at";

impl MessageRow {
    fn into_message(self) -> StoreResult<Message> {
        let state = parse_state(&self.state, self.id)?;
        Ok(Message {
            id: self.id,
            mailbox_id: self.mailbox_id,
            message_id: self.message_id,
            content_hash: self.content_hash,
            subject: self.subject,
            subject_pseudonymised: self.subject_pseudonymised,
            duplicate_of: self.duplicate_of,
            from_name: self.from_name,
            from_address: self.from_address,
            date: self.date,
            received_at: self.received_at,
            thread_id: self.thread_id,
            // What the page shows, never what it acts on blindly: an unreadable
            // summary shows no attachments and reads Reply-To from the header again.
            parsed: serde_json::from_str(&self.parsed).unwrap_or_else(|_| {
                tracing::warn!(message = self.id, "unreadable parsed summary");
                MailSummary::default()
            }),
            pseudonymised_text: self.pseudonymised_text,
            classify_text: self.classify_text,
            language: self.language,
            state,
            assigned_to: self.assigned_to,
            category: self.category,
            confidence: conf_out(self.confidence),
            pii_kinds: serde_json::from_str(&self.pii_kinds).unwrap_or_default(),
            flags: serde_json::from_str(&self.flags).unwrap_or_default(),
            updated_at: self.updated_at,
        })
    }
}

pub(crate) fn parse_state(s: &str, id: i64) -> StoreResult<MessageState> {
    MessageState::parse(s).ok_or_else(|| StoreError::Corrupt {
        op: format!("read message {id}"),
        detail: format!("unknown state '{s}'"),
    })
}

#[derive(sqlx::FromRow)]
struct TriageRow {
    id: i64,
    message_id: i64,
    model_version: Option<String>,
    category: Option<String>,
    confidence: Option<f64>,
    route: String,
    answer_id: Option<String>,
    answer_version: Option<i64>,
    draft_text: Option<String>,
    passages: String,
    candidates: String,
    close_suggestion: Option<String>,
    created_at: i64,
}

impl TriageRow {
    fn into_result(self) -> StoreResult<TriageResult> {
        let route = parse_route(&self.route).ok_or_else(|| StoreError::Corrupt {
            op: format!("read triage {}", self.id),
            detail: format!("unknown route '{}'", self.route),
        })?;
        Ok(TriageResult {
            id: self.id,
            message_id: self.message_id,
            model_version: self.model_version,
            category: self.category,
            confidence: self.confidence.map(|c| c as f32),
            route,
            answer_id: self.answer_id,
            answer_version: self.answer_version,
            draft_text: self.draft_text,
            // Shown, never acted on blindly: an unreadable list shows none.
            passages: serde_json::from_str(&self.passages).unwrap_or_default(),
            candidates: serde_json::from_str(&self.candidates).unwrap_or_default(),
            // A code this build does not know suggests nothing.
            close_suggestion: self
                .close_suggestion
                .as_deref()
                .and_then(CloseReason::parse),
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ActionRow {
    id: i64,
    message_id: i64,
    user_id: i64,
    at: i64,
    kind: String,
    before: String,
    after: String,
    model_version: Option<String>,
}

/// What loading a message for an action returns.
#[derive(sqlx::FromRow)]
struct ActionTarget {
    mailbox_id: i64,
    state: String,
    category: Option<String>,
    assigned_to: Option<i64>,
    model_version: Option<String>,
    draft_text: Option<String>,
    /// The latest triage when the action was taken: recorded in the action's
    /// `before`, it says which draft a reject refused without comparing times.
    triage_id: Option<i64>,
}

/// One agent action, as data, so a single transactional routine applies all kinds.
struct ActionSpec<'a> {
    op: String,
    message_id: i64,
    user_id: i64,
    kind: AgentActionKind,
    /// States from which the action is allowed.
    allowed_from: fn(MessageState) -> bool,
    set_state: Option<MessageState>,
    set_category: Option<String>,
    set_assigned: Option<i64>,
    /// Non-personal facts recorded in the action's `after` and in the audit row.
    extra: Value,
    outbox: Option<&'a ValidateReply>,
    return_raw: bool,
}

#[derive(Debug, Default)]
struct ActionOutcome {
    action_id: i64,
    outbox_id: Option<i64>,
    raw: Option<Vec<u8>>,
}

fn any_state(_: MessageState) -> bool {
    true
}

/// A triage serialised for its statements, before the transaction.
struct PreparedTriage<'a> {
    t: &'a NewTriage,
    passages: String,
    pii: String,
    candidates: String,
    confidence: Option<f64>,
    citizen_keys: Vec<String>,
    details: serde_json::Value,
}

fn open_state(s: MessageState) -> bool {
    s.is_open()
}

impl Store {
    /// Store a received message. Idempotent: the same (mailbox, Message-ID,
    /// content hash) returns `Duplicate` with the existing id, also when several
    /// ingesters race (unique index + `ON CONFLICT DO NOTHING`).
    pub async fn insert_message(&self, m: &NewMessage) -> StoreResult<InsertOutcome> {
        let mut out = self.insert_messages(std::slice::from_ref(m)).await?;
        out.pop().ok_or_else(|| StoreError::Conflict {
            op: format!("insert message into mailbox {}", m.mailbox_id),
            detail: "no outcome for the message".into(),
        })
    }

    /// [`Store::insert_message`] for many messages in one transaction, with an
    /// outcome per message in order: ingest stores a fetched batch with one
    /// commit. An error stores none of them.
    pub async fn insert_messages<M: std::borrow::Borrow<NewMessage>>(
        &self,
        ms: &[M],
    ) -> StoreResult<Vec<InsertOutcome>> {
        // Borrowed or owned: ingest hands its parsed batch without copying the
        // raw bytes of every message.
        let ms: Vec<&NewMessage> = ms.iter().map(|m| m.borrow()).collect();
        let ms = ms.as_slice();
        if ms.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now_ms();
        // The content hash, not the Message-ID, names the message in errors: it
        // identifies without carrying anything a sender wrote.
        let short = |m: &NewMessage| {
            m.content_hash
                .get(..12)
                .unwrap_or(&m.content_hash)
                .to_string()
        };
        let op = || match ms {
            [m] => format!("insert message {} into mailbox {}", short(m), m.mailbox_id),
            _ => format!(
                "insert {} messages from {} into mailbox {}",
                ms.len(),
                short(ms[0]),
                ms[0].mailbox_id
            ),
        };
        let prepared: Vec<_> = ms
            .iter()
            .map(|m| {
                (
                    m,
                    serde_json::to_string(&m.parsed).unwrap_or_else(|_| "{}".into()),
                    serde_json::to_string(&m.pii_kinds).unwrap_or_else(|_| "[]".into()),
                    serde_json::to_string(&m.flags).unwrap_or_else(|_| "[]".into()),
                )
            })
            .collect();
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let mut out = Vec::with_capacity(ms.len());
            for (m, parsed, pii, flags) in &prepared {
                let received_at = m.received_at.unwrap_or(now);
                let inserted: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO messages (mailbox_id, message_id, content_hash, raw, subject, from_name, \
                     from_address, date, received_at, thread_id, parsed, pseudonymised_text, language, \
                     state, pii_kinds, flags, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'new', $14, $15, $16) \
                     ON CONFLICT (mailbox_id, message_id, content_hash) DO NOTHING RETURNING id",
                )
                .bind(m.mailbox_id)
                .bind(&m.message_id)
                .bind(&m.content_hash)
                .bind(&m.raw)
                .bind(&m.subject)
                .bind(&m.from_name)
                .bind(&m.from_address)
                .bind(&m.date)
                .bind(received_at)
                .bind(&m.thread_id)
                .bind(parsed)
                .bind(&m.pseudonymised_text)
                .bind(&m.language)
                .bind(pii)
                .bind(flags)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .op(op)?;
                if let Some(id) = inserted {
                    tracing::debug!(id, mailbox = m.mailbox_id, "message stored");
                    out.push(InsertOutcome::Inserted(id));
                    continue;
                }
                let existing: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM messages WHERE mailbox_id = $1 AND message_id = $2 AND content_hash = $3",
                )
                .bind(m.mailbox_id)
                .bind(&m.message_id)
                .bind(&m.content_hash)
                .fetch_optional(&mut *tx)
                .await
                .op(op)?;
                match existing {
                    Some(id) => out.push(InsertOutcome::Duplicate(id)),
                    None => {
                        return Err(StoreError::Conflict {
                            op: format!("insert message {} into mailbox {}", short(m), m.mailbox_id),
                            detail: "insert skipped but no existing row found".into(),
                        })
                    }
                }
            }
            tx.commit().await.op(op)?;
            Ok(out)
        })
    }

    /// One message by row id, without its raw bytes; `None` when unknown or erased.
    pub async fn get_message(&self, id: i64) -> StoreResult<Option<Message>> {
        let row: Option<MessageRow> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {MESSAGE_COLS} FROM messages WHERE id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
                .op(|| format!("get message {id}"))
        })?;
        row.map(MessageRow::into_message).transpose()
    }

    /// Several messages by row id, without their raw bytes, in no order; unknown
    /// or erased ids are left out. A worker loads its batch with one query.
    pub async fn get_messages(&self, ids: &[i64]) -> StoreResult<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE id IN ({})",
            placeholders(1, ids.len())
        );
        let rows: Vec<MessageRow> = with_pool!(self, p => {
            let mut q = sqlx::query_as(&sql);
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(p).await.op(|| format!("get {} messages", ids.len()))
        })?;
        rows.into_iter().map(MessageRow::into_message).collect()
    }

    /// The raw bytes of several messages, by row id, in no order (see
    /// [`Store::get_raw`] on showing them).
    pub async fn get_raws(&self, ids: &[i64]) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, raw FROM messages WHERE id IN ({})",
            placeholders(1, ids.len())
        );
        with_pool!(self, p => {
            let mut q = sqlx::query_as(&sql);
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(p).await.op(|| format!("get the raw bytes of {} messages", ids.len()))
        })
    }

    /// The raw bytes as received. Showing them to a person unmasks personal data:
    /// UI callers should go through `reveal_pii_logged`.
    pub async fn get_raw(&self, id: i64) -> StoreResult<Option<Vec<u8>>> {
        with_pool!(self, p => {
            sqlx::query_scalar("SELECT raw FROM messages WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await
                .op(|| format!("get raw message {id}"))
        })
    }

    /// Messages of a thread, oldest first.
    pub async fn thread_messages(&self, thread_id: &str) -> StoreResult<Vec<Message>> {
        let rows: Vec<MessageRow> = with_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {MESSAGE_COLS} FROM messages WHERE thread_id = $1 ORDER BY received_at, id"
            ))
            .bind(thread_id)
            .fetch_all(p)
            .await
            .op(|| "list thread messages".to_string())
        })?;
        rows.into_iter().map(MessageRow::into_message).collect()
    }

    /// How many messages are stored, in one mailbox or in all (`None`).
    pub async fn count_messages(&self, mailbox_id: Option<i64>) -> StoreResult<i64> {
        let op = || format!("count messages of mailbox {mailbox_id:?}");
        with_pool!(self, p => {
            match mailbox_id {
                Some(mb) => sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE mailbox_id = $1")
                    .bind(mb)
                    .fetch_one(p)
                    .await
                    .op(op),
                None => sqlx::query_scalar("SELECT COUNT(*) FROM messages")
                    .fetch_one(p)
                    .await
                    .op(op),
            }
        })
    }

    /// Messages per state, of one mailbox or all (`None`), every state listed
    /// (zeros included) in `MessageState::ALL` order, so a metrics series never
    /// disappears. One mailbox's counts read the queue index
    /// `(mailbox_id, state, …)` only: the queue tabs show them on every page.
    pub async fn count_messages_by_state(
        &self,
        mailbox_id: Option<i64>,
    ) -> StoreResult<Vec<(MessageState, i64)>> {
        let op = || format!("count messages by state of mailbox {mailbox_id:?}");
        let rows: Vec<(String, i64)> = with_pool!(self, p => {
            match mailbox_id {
                Some(mb) => sqlx::query_as(
                    "SELECT state, COUNT(*) FROM messages WHERE mailbox_id = $1 GROUP BY state",
                )
                .bind(mb)
                .fetch_all(p)
                .await
                .op(op),
                None => sqlx::query_as("SELECT state, COUNT(*) FROM messages GROUP BY state")
                    .fetch_all(p)
                    .await
                    .op(op),
            }
        })?;
        let mut out: Vec<(MessageState, i64)> = MessageState::ALL.iter().map(|s| (*s, 0)).collect();
        for (state, n) in rows {
            let st = MessageState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                op: "count messages by state".to_string(),
                detail: format!("unknown state '{state}'"),
            })?;
            if let Some(slot) = out.iter_mut().find(|(s, _)| *s == st) {
                slot.1 += n;
            }
        }
        Ok(out)
    }

    /// Record what the pipeline decided and move the message to the routed state.
    /// Triage's sensitivity flags replace the previous triage's; what ingest
    /// noted of the mail itself (`oversized`) stays.
    /// Only open messages are (re)triaged: a validated or sent one keeps its state.
    pub async fn record_triage(&self, t: &NewTriage) -> StoreResult<i64> {
        self.record_triages(std::slice::from_ref(t))
            .await?
            .pop()
            .unwrap_or_else(|| {
                Err(StoreError::NotFound {
                    op: format!("record triage of message {}", t.message_id),
                })
            })
    }

    /// [`Store::record_triage`] for many messages in one transaction: bulk ingest
    /// and the workers write a batch at once instead of a commit per message.
    /// Each triage has its own outcome: a message gone or no longer open is
    /// refused (`NotFound`, `InvalidState`) and the others are recorded. A
    /// database error fails the whole batch, and nothing of it is written.
    pub async fn record_triages(&self, ts: &[NewTriage]) -> StoreResult<Vec<StoreResult<i64>>> {
        if ts.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now_ms();
        let batch_op = || match ts {
            [one] => format!("record triage of message {}", one.message_id),
            _ => format!(
                "record {} triages from message {}",
                ts.len(),
                ts[0].message_id
            ),
        };
        // Serialised, hashed and described before the transaction, which then
        // holds the write lock only for the statements.
        let prepared: Vec<_> = ts
            .iter()
            .map(|t| {
                let confidence = t.confidence.filter(|c| c.is_finite()).map(f64::from);
                let details = json!({
                    "route": route_code(t.route),
                    "category": t.category,
                    "confidence": confidence,
                    "model_version": t.model_version,
                    "answer": t.answer_id.as_ref().map(|a| format!("{a}@{}", t.answer_version.unwrap_or(0))),
                });
                PreparedTriage {
                    t,
                    passages: serde_json::to_string(&t.passages).unwrap_or_else(|_| "[]".into()),
                    pii: serde_json::to_string(&t.pii_kinds).unwrap_or_else(|_| "[]".into()),
                    candidates: serde_json::to_string(&t.candidates)
                        .unwrap_or_else(|_| "[]".into()),
                    confidence,
                    // Hashed before the transaction; without the key nothing is linked.
                    citizen_keys: self.citizen_hashes(&t.citizen_ids),
                    details,
                }
            })
            .collect();
        with_pool!(self, p => {
            let op = batch_op;
            let mut tx = p.begin_write().await.op(op)?;
            let mut out = Vec::with_capacity(prepared.len());
            let mut audited: Vec<(String, String)> = Vec::with_capacity(prepared.len());
            // Every message's state and flags in one query.
            let sql = format!(
                "SELECT id, state, flags FROM messages WHERE id IN ({})",
                placeholders(1, prepared.len())
            );
            let mut q = sqlx::query_as::<_, (i64, String, String)>(&sql);
            for pt in &prepared {
                q = q.bind(pt.t.message_id);
            }
            let mut states: std::collections::HashMap<i64, (String, String)> = q
                .fetch_all(&mut *tx)
                .await
                .op(op)?
                .into_iter()
                .map(|(id, state, flags)| (id, (state, flags)))
                .collect();
            let mut keyed: Vec<(i64, &String)> = Vec::new();
            for pt in &prepared {
                let t = pt.t;
                let item_op = || format!("record triage of message {}", t.message_id);
                let current = states.remove(&t.message_id);
                let (current, stored_flags) = match current {
                    Some((s, f)) => (parse_state(&s, t.message_id)?, f),
                    None => {
                        out.push(Err(StoreError::NotFound { op: item_op() }));
                        continue;
                    }
                };
                if !current.is_open() {
                    out.push(Err(StoreError::InvalidState {
                        op: item_op(),
                        state: current.as_str().into(),
                    }));
                    continue;
                }
                let flags = merged_flags(&t.flags, &stored_flags);
                let state = MessageState::from(t.route);
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO triage_results (message_id, model_version, category, confidence, route, \
                     answer_id, answer_version, draft_text, passages, created_at, candidates, close_suggestion) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                )
                .bind(t.message_id)
                .bind(&t.model_version)
                .bind(&t.category)
                .bind(pt.confidence)
                .bind(route_code(t.route))
                .bind(&t.answer_id)
                .bind(t.answer_version)
                .bind(&t.draft_text)
                .bind(&pt.passages)
                .bind(now)
                .bind(&pt.candidates)
                .bind(t.close_suggestion.map(|r| r.as_str()))
                .fetch_one(&mut *tx)
                .await
                .op(op)?;
                sqlx::query(
                    "UPDATE messages SET state = $1, category = $2, confidence = $3, \
                     language = COALESCE($4, language), pseudonymised_text = COALESCE($5, pseudonymised_text), \
                     pii_kinds = $6, flags = $7, updated_at = $8, \
                     classify_text = COALESCE($10, classify_text), \
                     subject_pseudonymised = COALESCE($11, subject_pseudonymised) WHERE id = $9",
                )
                .bind(state.as_str())
                .bind(&t.category)
                .bind(conf_in(t.confidence))
                .bind(&t.language)
                .bind(&t.pseudonymised_text)
                .bind(&pt.pii)
                .bind(&flags)
                .bind(now)
                .bind(t.message_id)
                .bind(&t.classify_text)
                .bind(&t.subject_pseudonymised)
                .execute(&mut *tx)
                .await
                .op(op)?;
                if !t.attachment_texts.is_empty() {
                    crate::attachments::replace_attachment_texts!(
                        tx,
                        t.message_id,
                        t.attachment_texts,
                        op
                    );
                }
                keyed.extend(pt.citizen_keys.iter().map(|k| (t.message_id, k)));
                audited.push((format!("message:{}", t.message_id), pt.details.to_string()));
                out.push(Ok(id));
            }
            // The citizen keys of the batch replace those of earlier triages, in
            // two statements.
            let mut with_keys: Vec<i64> = keyed.iter().map(|(id, _)| *id).collect();
            with_keys.sort_unstable();
            with_keys.dedup();
            if !with_keys.is_empty() {
                let sql = format!(
                    "DELETE FROM citizen_keys WHERE message_id IN ({})",
                    placeholders(1, with_keys.len())
                );
                let mut q = sqlx::query(&sql);
                for id in &with_keys {
                    q = q.bind(*id);
                }
                q.execute(&mut *tx).await.op(op)?;
                let values = value_rows(2, keyed.len());
                // `WHERE true`: SQLite's parser needs it before an upsert clause.
                let sql = format!(
                    "WITH v(message_id, key_hash) AS (VALUES {values}) \
                     INSERT INTO citizen_keys (message_id, key_hash, received_at) \
                     SELECT m.id, v.key_hash, m.received_at FROM v JOIN messages m ON m.id = v.message_id \
                     WHERE true ON CONFLICT (message_id, key_hash) DO NOTHING"
                );
                let mut q = sqlx::query(&sql);
                for (id, k) in &keyed {
                    q = q.bind(*id).bind(*k);
                }
                q.execute(&mut *tx).await.op(op)?;
            }
            // Last, so the audit head's row lock is held only for the commit.
            audit_append_many!(self, tx, now, "system".to_string(), "message.triage", &audited)
                .op(op)?;
            tx.commit().await.op(op)?;
            Ok(out)
        })
    }

    /// The most recent triage of a message: the draft and reasons the page shows.
    pub async fn latest_triage(&self, message_id: i64) -> StoreResult<Option<TriageResult>> {
        Ok(self.triages(message_id, true).await?.pop())
    }

    /// Every triage of a message, oldest first: the message's timeline.
    pub async fn list_triages(&self, message_id: i64) -> StoreResult<Vec<TriageResult>> {
        self.triages(message_id, false).await
    }

    async fn triages(&self, message_id: i64, latest_only: bool) -> StoreResult<Vec<TriageResult>> {
        let sql = format!(
            "SELECT id, message_id, model_version, category, confidence, route, answer_id, \
             answer_version, draft_text, passages, candidates, close_suggestion, created_at FROM triage_results \
             WHERE message_id = $1 ORDER BY id {}",
            if latest_only { "DESC LIMIT 1" } else { "ASC" }
        );
        let rows: Vec<TriageRow> = with_pool!(self, p => {
            sqlx::query_as(&sql)
                .bind(message_id)
                .fetch_all(p)
                .await
                .op(|| format!("get triage of message {message_id}"))
        })?;
        rows.into_iter().map(TriageRow::into_result).collect()
    }

    /// Agent actions on a message, oldest first.
    pub async fn list_actions(&self, message_id: i64) -> StoreResult<Vec<ActionRecord>> {
        let rows: Vec<ActionRow> = with_pool!(self, p => {
            sqlx::query_as(
                "SELECT id, message_id, user_id, at, kind, before, after, model_version \
                 FROM agent_actions WHERE message_id = $1 ORDER BY id",
            )
            .bind(message_id)
            .fetch_all(p)
            .await
            .op(|| format!("list actions of message {message_id}"))
        })?;
        Ok(rows
            .into_iter()
            .map(|r| ActionRecord {
                id: r.id,
                message_id: r.message_id,
                user_id: r.user_id,
                at: r.at,
                kind: r.kind,
                before: parse_json(&r.before),
                after: parse_json(&r.after),
                model_version: r.model_version,
            })
            .collect())
    }

    // ------------------------------------------------------------ agent actions

    /// Validate (possibly edited) text and queue it for sending, atomically:
    /// message → `validated`, action row, outbox row, audit row. Returns the
    /// outbox id. Fails (and changes nothing) if the user may not access the
    /// mailbox, the message is not open, or the reply Message-ID is already used.
    ///
    /// Refuses with [`StoreError::RecipientAutomatic`] when the last mail from the
    /// recipient's address was an auto-reply (state `automatic`): answering an
    /// auto-responder risks a mail loop. An agent who checked may confirm with
    /// [`Store::validate_and_queue_confirmed`].
    pub async fn validate_and_queue(&self, v: &ValidateReply) -> StoreResult<i64> {
        if self.last_mail_from_is_automatic(&v.to_address).await? {
            return Err(StoreError::RecipientAutomatic {
                op: format!("validate message {} by user {}", v.message_id, v.user_id),
            });
        }
        self.validate_inner(v, false).await
    }

    /// [`Store::validate_and_queue`] after an agent confirmed sending to an
    /// address whose last mail was an auto-reply (recorded in the action and the
    /// audit row).
    pub async fn validate_and_queue_confirmed(&self, v: &ValidateReply) -> StoreResult<i64> {
        let confirmed = self.last_mail_from_is_automatic(&v.to_address).await?;
        self.validate_inner(v, confirmed).await
    }

    /// Whether the latest stored mail from `address` (compared as given and
    /// lowercased) was written by a machine: an auto-reply or a bounce.
    pub async fn last_mail_from_is_automatic(&self, address: &str) -> StoreResult<bool> {
        let address = address.trim();
        if address.is_empty() {
            return Ok(false);
        }
        let lower = address.to_lowercase();
        let state: Option<String> = with_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT state FROM messages WHERE from_address IN ($1, $2) \
                 ORDER BY received_at DESC, id DESC LIMIT 1",
            )
            .bind(address)
            .bind(&lower)
            .fetch_optional(p)
            .await
            .op(|| "read the last mail state of a reply's recipient".to_string())
        })?;
        Ok(state.as_deref() == Some(MessageState::Automatic.as_str()))
    }

    async fn validate_inner(
        &self,
        v: &ValidateReply,
        confirmed_automatic: bool,
    ) -> StoreResult<i64> {
        // Checked here, not only in the forms: every path to the outbox passes here.
        facteur_core::reply::check_reply(&v.body).map_err(|problem| StoreError::ReplyRefused {
            op: format!("validate message {} by user {}", v.message_id, v.user_id),
            problem,
        })?;
        let out = self
            .apply_action(ActionSpec {
                op: format!("validate message {} by user {}", v.message_id, v.user_id),
                message_id: v.message_id,
                user_id: v.user_id,
                kind: AgentActionKind::ValidateSend,
                allowed_from: open_state,
                set_state: Some(MessageState::Validated),
                set_category: None,
                set_assigned: None,
                extra: if confirmed_automatic {
                    json!({"confirmed_automatic_recipient": true})
                } else {
                    json!({})
                },
                outbox: Some(v),
                return_raw: false,
            })
            .await?;
        out.outbox_id.ok_or_else(|| StoreError::Corrupt {
            op: format!("validate message {}", v.message_id),
            detail: "no outbox id".into(),
        })
    }

    /// Set the right request type (training data for the next model).
    pub async fn correct_category(
        &self,
        message_id: i64,
        user_id: i64,
        category: &str,
    ) -> StoreResult<i64> {
        self.apply_action(ActionSpec {
            op: format!("correct category of message {message_id} by user {user_id}"),
            message_id,
            user_id,
            kind: AgentActionKind::CorrectCategory,
            allowed_from: any_state,
            set_state: None,
            set_category: Some(category.to_string()),
            set_assigned: None,
            extra: json!({}),
            outbox: None,
            return_raw: false,
        })
        .await
        .map(|o| o.action_id)
    }

    /// Reject the draft with a reason; the message goes to the human queue
    /// (`needs_research`) whatever the reason, since no draft will be sent.
    pub async fn reject_draft(
        &self,
        message_id: i64,
        user_id: i64,
        reason: RejectReason,
    ) -> StoreResult<i64> {
        self.apply_action(ActionSpec {
            op: format!("reject draft of message {message_id} by user {user_id}"),
            message_id,
            user_id,
            kind: AgentActionKind::Reject,
            allowed_from: open_state,
            set_state: Some(MessageState::NeedsResearch),
            set_category: None,
            set_assigned: None,
            extra: json!({"reason": reason.as_str()}),
            outbox: None,
            return_raw: false,
        })
        .await
        .map(|o| o.action_id)
    }

    /// Assign to a user who may access the mailbox.
    pub async fn assign(&self, message_id: i64, by_user: i64, to_user: i64) -> StoreResult<i64> {
        self.apply_action(ActionSpec {
            op: format!("assign message {message_id} to user {to_user} by user {by_user}"),
            message_id,
            user_id: by_user,
            kind: AgentActionKind::Assign,
            allowed_from: open_state,
            set_state: None,
            set_category: None,
            set_assigned: Some(to_user),
            extra: json!({}),
            outbox: None,
            return_raw: false,
        })
        .await
        .map(|o| o.action_id)
    }

    /// Escalate an open message with a reason code: it moves to `escalated`, the reason recorded on the action.
    pub async fn escalate(
        &self,
        message_id: i64,
        user_id: i64,
        reason: EscalationReason,
    ) -> StoreResult<i64> {
        self.apply_action(ActionSpec {
            op: format!("escalate message {message_id} by user {user_id}"),
            message_id,
            user_id,
            kind: AgentActionKind::Escalate,
            allowed_from: open_state,
            set_state: Some(MessageState::Escalated),
            set_category: None,
            set_assigned: None,
            extra: json!({"reason": reason.as_str()}),
            outbox: None,
            return_raw: false,
        })
        .await
        .map(|o| o.action_id)
    }

    /// Close an open message without a reply (state `closed`), for `reason`;
    /// `answered_by`: the message whose reply answered this one too (a duplicate).
    pub async fn close_without_reply(
        &self,
        message_id: i64,
        user_id: i64,
        reason: CloseReason,
        answered_by: Option<i64>,
    ) -> StoreResult<i64> {
        self.apply_action(ActionSpec {
            op: format!("close message {message_id} without a reply by user {user_id}"),
            message_id,
            user_id,
            kind: AgentActionKind::Close,
            allowed_from: open_state,
            set_state: Some(MessageState::Closed),
            set_category: None,
            set_assigned: None,
            extra: json!({"reason": reason.as_str(), "answered_by": answered_by}),
            outbox: None,
            return_raw: false,
        })
        .await
        .map(|o| o.action_id)
    }

    /// Return the raw message (unmasked personal data) and log that this user saw
    /// it, in the same transaction: there is no unlogged way through the store's
    /// action API.
    pub async fn reveal_pii_logged(&self, message_id: i64, user_id: i64) -> StoreResult<Vec<u8>> {
        let out = self
            .apply_action(ActionSpec {
                op: format!("reveal personal data of message {message_id} to user {user_id}"),
                message_id,
                user_id,
                kind: AgentActionKind::RevealPii,
                allowed_from: any_state,
                set_state: None,
                set_category: None,
                set_assigned: None,
                extra: json!({}),
                outbox: None,
                return_raw: true,
            })
            .await?;
        Ok(out.raw.unwrap_or_default())
    }

    async fn apply_action(&self, spec: ActionSpec<'_>) -> StoreResult<ActionOutcome> {
        let now = self.now_ms();
        let op = || spec.op.clone();
        let lock = self.row_lock_suffix();
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let target: Option<ActionTarget> = sqlx::query_as(&format!(
                "SELECT m.mailbox_id, m.state, m.category, m.assigned_to, \
                 (SELECT t.model_version FROM triage_results t WHERE t.message_id = m.id ORDER BY t.id DESC LIMIT 1) AS model_version, \
                 (SELECT t.draft_text FROM triage_results t WHERE t.message_id = m.id ORDER BY t.id DESC LIMIT 1) AS draft_text, \
                 (SELECT t.id FROM triage_results t WHERE t.message_id = m.id ORDER BY t.id DESC LIMIT 1) AS triage_id \
                 FROM messages m WHERE m.id = $1{lock}"
            ))
            .bind(spec.message_id)
            .fetch_optional(&mut *tx)
            .await
            .op(op)?;
            let Some(target) = target else {
                return Err(StoreError::NotFound { op: op() });
            };
            let allowed: i64 = sqlx::query_scalar(ACCESS_SQL)
                .bind(spec.user_id)
                .bind(target.mailbox_id)
                .fetch_one(&mut *tx)
                .await
                .op(op)?;
            // Refusals roll back at once: a dropped transaction keeps its row
            // lock until its connection is next used.
            if allowed == 0 {
                tracing::warn!(user = spec.user_id, message = spec.message_id, "action refused: no access");
                tx.rollback().await.op(op)?;
                return Err(StoreError::Forbidden { op: op() });
            }
            if let Some(assignee) = spec.set_assigned {
                let ok: i64 = sqlx::query_scalar(ACCESS_SQL)
                    .bind(assignee)
                    .bind(target.mailbox_id)
                    .fetch_one(&mut *tx)
                    .await
                    .op(op)?;
                if ok == 0 {
                    tx.rollback().await.op(op)?;
                    return Err(StoreError::Forbidden { op: op() });
                }
            }
            let state = parse_state(&target.state, spec.message_id)?;
            if !(spec.allowed_from)(state) {
                tx.rollback().await.op(op)?;
                return Err(StoreError::InvalidState { op: op(), state: state.as_str().into() });
            }
            let new_state = spec.set_state.unwrap_or(state);
            let new_category = spec.set_category.clone().or_else(|| target.category.clone());
            let new_assigned = spec.set_assigned.or(target.assigned_to);
            let mut after = json!({
                "state": new_state.as_str(),
                "category": new_category,
                "assigned_to": new_assigned,
            });
            merge(&mut after, &spec.extra);

            let mut outbox_id = None;
            if let Some(v) = spec.outbox {
                let edited = target.draft_text.as_deref().map(str::trim) != Some(v.body.trim());
                let name: String = sqlx::query_scalar("SELECT display_name FROM users WHERE id = $1")
                    .bind(v.user_id)
                    .fetch_one(&mut *tx)
                    .await
                    .op(op)?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO outbox (message_id, reply_message_id, to_address, subject, in_reply_to, \
                     references_hdr, body, validated_by, validated_by_name, state, attempts, \
                     next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', 0, $10, $11) RETURNING id",
                )
                .bind(v.message_id)
                .bind(&v.reply_message_id)
                .bind(&v.to_address)
                .bind(&v.subject)
                .bind(&v.in_reply_to)
                .bind(v.references.join(" "))
                .bind(&v.body)
                .bind(v.user_id)
                .bind(&name)
                .bind(now.saturating_add(v.send_delay_ms.max(0)))
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .op(op)?;
                merge(&mut after, &json!({"edited": edited, "outbox_id": id}));
                outbox_id = Some(id);
            }

            sqlx::query(
                "UPDATE messages SET state = $1, category = $2, assigned_to = $3, updated_at = $4 WHERE id = $5",
            )
            .bind(new_state.as_str())
            .bind(&new_category)
            .bind(new_assigned)
            .bind(now)
            .bind(spec.message_id)
            .execute(&mut *tx)
            .await
            .op(op)?;

            let before = json!({
                "state": state.as_str(),
                "category": target.category,
                "assigned_to": target.assigned_to,
                "triage_id": target.triage_id,
            });
            let action_id: i64 = sqlx::query_scalar(
                "INSERT INTO agent_actions (message_id, user_id, at, kind, before, after, model_version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(spec.message_id)
            .bind(spec.user_id)
            .bind(now)
            .bind(spec.kind.as_str())
            .bind(before.to_string())
            .bind(after.to_string())
            .bind(&target.model_version)
            .fetch_one(&mut *tx)
            .await
            .op(op)?;

            let raw: Option<Vec<u8>> = if spec.return_raw {
                Some(
                    sqlx::query_scalar("SELECT raw FROM messages WHERE id = $1")
                        .bind(spec.message_id)
                        .fetch_one(&mut *tx)
                        .await
                        .op(op)?,
                )
            } else {
                None
            };

            // Only states, categories, ids and reason codes: never text or addresses.
            let details = json!({
                "kind": spec.kind.as_str(),
                "action_id": action_id,
                "before": before,
                "after": after,
                "model_version": target.model_version,
            });
            audit_append!(self, tx, now, format!("user:{}", spec.user_id),
                &format!("message.{}", spec.kind.as_str()),
                format!("message:{}", spec.message_id), details).op(op)?;
            tx.commit().await.op(op)?;
            Ok(ActionOutcome { action_id, outbox_id, raw })
        })
    }

    /// `FOR UPDATE` on PostgreSQL; nothing on SQLite, where `BEGIN IMMEDIATE`
    /// already serialises writers.
    pub(crate) fn row_lock_suffix(&self) -> &'static str {
        match self.backend() {
            crate::Backend::Sqlite => "",
            crate::Backend::Postgres => " FOR UPDATE",
        }
    }
}

fn merge(into: &mut Value, extra: &Value) {
    if let (Some(a), Some(b)) = (into.as_object_mut(), extra.as_object()) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
}

pub(crate) fn route_code(r: Route) -> &'static str {
    match r {
        Route::ReadyToValidate => "ready_to_validate",
        Route::NeedsResearch => "needs_research",
        Route::Escalate => "escalate",
        Route::Abstain => "abstain",
        Route::Automatic => "automatic",
    }
}

fn parse_route(s: &str) -> Option<Route> {
    Some(match s {
        "ready_to_validate" => Route::ReadyToValidate,
        "needs_research" => Route::NeedsResearch,
        "escalate" => Route::Escalate,
        "abstain" => Route::Abstain,
        "automatic" => Route::Automatic,
        _ => return None,
    })
}

/// Flags ingest sets from the mail itself, which no triage can undo: a mail
/// stored from its header only stays `oversized` whatever its text says.
pub(crate) const INGEST_FLAGS: &[&str] = &["oversized"];

/// `triage`'s flags, then the ingest flags already stored (JSON), as JSON.
fn merged_flags(triage: &[String], stored: &str) -> String {
    let stored: Vec<String> = serde_json::from_str(stored).unwrap_or_default();
    let mut out = triage.to_vec();
    for f in stored {
        if INGEST_FLAGS.contains(&f.as_str()) && !out.contains(&f) {
            out.push(f);
        }
    }
    serde_json::to_string(&out).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_triage_keeps_what_ingest_noted_and_replaces_its_own_flags() {
        let f = |t: &[&str], stored: &str| {
            let t: Vec<String> = t.iter().map(|s| s.to_string()).collect();
            merged_flags(&t, stored)
        };
        assert_eq!(
            f(&["complaint"], r#"["oversized"]"#),
            r#"["complaint","oversized"]"#
        );
        assert_eq!(f(&[], r#"["oversized","distress"]"#), r#"["oversized"]"#);
        assert_eq!(f(&["threat"], "not json"), r#"["threat"]"#);
        assert_eq!(f(&["oversized"], r#"["oversized"]"#), r#"["oversized"]"#);
    }
}
