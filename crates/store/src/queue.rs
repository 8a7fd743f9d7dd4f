//! The work queue: filtered, sorted, paged listing of messages.
//!
//! Fast paging whatever the mix of mailboxes and states: the query is a UNION ALL
//! of one arm per (mailbox, state) pair. Each arm is an equality prefix on a
//! composite index `(mailbox_id, state[, category], sort key, id)`, so it reads at
//! most `limit` rows already in order; the outer ORDER BY merges at most
//! `arms × limit` rows. A plain `mailbox_id IN (…) AND state IN (…) ORDER BY …`
//! would sort every matching row instead.

use facteur_core::MessageState;

use crate::error::{OpContext, StoreResult};
use crate::types::conf_out;
use crate::{with_pool, QueueCursor, QueuePage, QueueQuery, QueueRow, QueueSort, Store};

#[derive(sqlx::FromRow)]
struct QueueDbRow {
    id: i64,
    mailbox_id: i64,
    subject: String,
    subject_pseudonymised: Option<String>,
    from_name: Option<String>,
    from_address: Option<String>,
    received_at: i64,
    state: String,
    category: Option<String>,
    confidence: f64,
    assigned_to: Option<i64>,
}

enum Bind {
    I(i64),
    F(f64),
    S(String),
}

const MAX_LIMIT: u32 = 500;
const QUEUE_COLS: &str =
    "id, mailbox_id, subject, subject_pseudonymised, from_name, from_address, received_at, state, category, confidence, assigned_to";

impl Store {
    /// One page of a work queue: the messages matching `q`, in its order; empty when it names no mailbox.
    pub async fn list_queue(&self, q: &QueueQuery) -> StoreResult<Vec<QueueRow>> {
        let mailboxes = match &q.mailbox_ids {
            Some(ids) => ids.clone(),
            None => self
                .list_mailboxes()
                .await?
                .into_iter()
                .map(|m| m.id)
                .collect(),
        };
        let states: Vec<MessageState> = if q.states.is_empty() {
            MessageState::ALL
                .iter()
                .copied()
                .filter(|s| s.is_open())
                .collect()
        } else {
            q.states.clone()
        };
        if mailboxes.is_empty() || states.is_empty() {
            return Ok(Vec::new());
        }
        let (sql, binds) = build_queue_sql(&mailboxes, &states, q);
        let op = || {
            format!(
                "list queue of {} mailbox(es), {} state(s)",
                mailboxes.len(),
                states.len()
            )
        };
        let rows: Vec<QueueDbRow> = with_pool!(self, p => {
            let mut query = sqlx::query_as::<_, QueueDbRow>(&sql);
            for b in &binds {
                query = match b {
                    Bind::I(v) => query.bind(*v),
                    Bind::F(v) => query.bind(*v),
                    Bind::S(v) => query.bind(v.as_str()),
                };
            }
            query.fetch_all(p).await.op(op)
        })?;
        rows.into_iter()
            .map(|r| {
                let state = crate::messages::parse_state(&r.state, r.id)?;
                Ok(QueueRow {
                    id: r.id,
                    mailbox_id: r.mailbox_id,
                    subject: r.subject,
                    subject_pseudonymised: r.subject_pseudonymised,
                    from_name: r.from_name,
                    from_address: r.from_address,
                    received_at: r.received_at,
                    state,
                    category: r.category,
                    confidence: conf_out(r.confidence),
                    assigned_to: r.assigned_to,
                    cursor: QueueCursor {
                        received_at: r.received_at,
                        confidence: r.confidence,
                        id: r.id,
                    },
                })
            })
            .collect()
    }
}

/// Push a bind value and return its `$N` placeholder.
fn next(b: Bind, binds: &mut Vec<Bind>) -> String {
    binds.push(b);
    format!("${}", binds.len())
}

/// At most this many words per search: each one is a scan predicate.
const MAX_SEARCH_WORDS: usize = 6;

/// The words of a search, lower-cased (as `LOWER()` does, ASCII letters), one
/// character at least, at most [`MAX_SEARCH_WORDS`].
fn search_words(search: Option<&str>) -> Vec<String> {
    search
        .unwrap_or_default()
        .split_whitespace()
        .map(|w| w.to_lowercase())
        .filter(|w| !w.is_empty())
        .take(MAX_SEARCH_WORDS)
        .collect()
}

/// `word` as a literal inside a LIKE pattern (escape character `\`).
fn like_escape(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn build_queue_sql(
    mailboxes: &[i64],
    states: &[MessageState],
    q: &QueueQuery,
) -> (String, Vec<Bind>) {
    let limit = q.limit.clamp(1, MAX_LIMIT);
    let offset = match q.page {
        QueuePage::Offset(o) => o,
        _ => 0,
    };
    let arm_limit = u64::from(limit) + u64::from(offset);
    // Arms read only (sort key, id) so each is an index-only scan; the full rows
    // are fetched by id for the final page alone.
    let (key, dir) = match q.sort {
        QueueSort::Age => ("received_at", "ASC"),
        QueueSort::Confidence => ("confidence", "DESC"),
    };

    let mut binds: Vec<Bind> = Vec::new();

    // Shared predicates: each bound once and referenced by number in every arm.
    let mut shared = String::new();
    if let Some(c) = &q.category {
        let n = next(Bind::S(c.clone()), &mut binds);
        shared.push_str(&format!(" AND category = {n}"));
    }
    if let Some(a) = q.assigned_to {
        let n = next(Bind::I(a), &mut binds);
        shared.push_str(&format!(" AND assigned_to = {n}"));
    }
    if let Some((from, until)) = q.received {
        let f = next(Bind::I(from), &mut binds);
        let u = next(Bind::I(until), &mut binds);
        shared.push_str(&format!(" AND received_at >= {f} AND received_at < {u}"));
    }
    for word in search_words(q.search.as_deref()) {
        let n = next(Bind::S(format!("%{}%", like_escape(&word))), &mut binds);
        shared.push_str(&format!(
            " AND (LOWER(pseudonymised_text) LIKE {n} ESCAPE '\\' \
             OR LOWER(COALESCE(classify_text, '')) LIKE {n} ESCAPE '\\')"
        ));
    }
    if let QueuePage::After(c) = q.page {
        // Range on the sort key (index-friendly), then the tiebreak on id.
        match q.sort {
            QueueSort::Age => {
                let k = next(Bind::I(c.received_at), &mut binds);
                let i = next(Bind::I(c.id), &mut binds);
                shared.push_str(&format!(
                    " AND received_at >= {k} AND (received_at > {k} OR id > {i})"
                ));
            }
            QueueSort::Confidence => {
                let k = next(Bind::F(c.confidence), &mut binds);
                let i = next(Bind::I(c.id), &mut binds);
                shared.push_str(&format!(
                    " AND confidence <= {k} AND (confidence < {k} OR id < {i})"
                ));
            }
        }
    }

    let mb_params: Vec<String> = mailboxes
        .iter()
        .map(|m| next(Bind::I(*m), &mut binds))
        .collect();
    let st_params: Vec<String> = states
        .iter()
        .map(|s| next(Bind::S(s.as_str().to_string()), &mut binds))
        .collect();

    let mut arms = Vec::with_capacity(mb_params.len() * st_params.len());
    for mb in &mb_params {
        for st in &st_params {
            arms.push(format!(
                "SELECT * FROM (SELECT id, {key} AS k FROM messages \
                 WHERE mailbox_id = {mb} AND state = {st}{shared} \
                 ORDER BY {key} {dir}, id {dir} LIMIT {arm_limit}) AS a{}",
                arms.len()
            ));
        }
    }
    let cols = QUEUE_COLS
        .split(", ")
        .map(|c| format!("m.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {cols} FROM messages m JOIN ({} ORDER BY k {dir}, id {dir} LIMIT {limit} OFFSET {offset}) \
         AS page ON page.id = m.id ORDER BY m.{key} {dir}, m.id {dir}",
        arms.join(" UNION ALL ")
    );
    (sql, binds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_arm_per_mailbox_and_state_with_shared_binds() {
        let q = QueryFixture::query();
        let (sql, binds) =
            build_queue_sql(&[1, 2], &[MessageState::New, MessageState::Escalated], &q);
        assert_eq!(sql.matches("UNION ALL").count(), 3);
        // category + 2 cursor values + 2 mailboxes + 2 states
        assert_eq!(binds.len(), 7);
        assert!(sql.contains("category = $1"));
        assert!(sql.contains("ORDER BY k ASC, id ASC LIMIT 20 OFFSET 0"));
    }

    struct QueryFixture;
    impl QueryFixture {
        fn query() -> QueueQuery {
            QueueQuery {
                category: Some("x".into()),
                page: QueuePage::After(QueueCursor {
                    received_at: 5,
                    confidence: 0.5,
                    id: 9,
                }),
                limit: 20,
                ..Default::default()
            }
        }
    }
}
