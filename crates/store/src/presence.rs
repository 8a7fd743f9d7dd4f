//! Who is looking at a message: so that two agents do not answer the same
//! citizen twice, the message page names the colleagues who opened it in the
//! last few minutes. Kept in the store, not in a node's memory, so it holds
//! across nodes behind a load balancer.

use serde::Serialize;

use crate::error::{OpContext, StoreResult};
use crate::{with_pool, Millis, Store};

/// A view counts as "consulting" this long after the page was last shown; a
/// reload within it keeps the original "since".
pub const VIEW_TTL_MS: Millis = 5 * 60 * 1000;

/// A colleague who has the message open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Viewer {
    /// Row id in `users` of the colleague.
    pub user_id: i64,
    /// Their display name, as the notice shows it.
    pub display_name: String,
    /// Since when, without a gap longer than [`VIEW_TTL_MS`].
    pub since: Millis,
}

impl Store {
    /// `user_id` has message `message_id` open now.
    pub async fn record_view(&self, message_id: i64, user_id: i64) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("record that user {user_id} views message {message_id}");
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO message_views (message_id, user_id, since, seen_at) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (message_id, user_id) DO UPDATE SET \
                 since = CASE WHEN message_views.seen_at < $4 THEN $3 ELSE message_views.since END, \
                 seen_at = $3",
            )
            .bind(message_id)
            .bind(user_id)
            .bind(now)
            .bind(now - VIEW_TTL_MS)
            .execute(p)
            .await
            .op(op)?;
            Ok(())
        })
    }

    /// The others who viewed the message within [`VIEW_TTL_MS`], longest first.
    pub async fn other_viewers(&self, message_id: i64, user_id: i64) -> StoreResult<Vec<Viewer>> {
        let now = self.now_ms();
        let op = || format!("list who else views message {message_id}");
        let rows: Vec<(i64, String, i64)> = with_pool!(self, p => {
            sqlx::query_as(
                "SELECT v.user_id, u.display_name, v.since FROM message_views v \
                 JOIN users u ON u.id = v.user_id \
                 WHERE v.message_id = $1 AND v.user_id <> $2 AND v.seen_at >= $3 \
                 ORDER BY v.since, v.user_id",
            )
            .bind(message_id)
            .bind(user_id)
            .bind(now - VIEW_TTL_MS)
            .fetch_all(p)
            .await
            .op(op)
        })?;
        Ok(rows
            .into_iter()
            .map(|(user_id, display_name, since)| Viewer {
                user_id,
                display_name,
                since,
            })
            .collect())
    }
}
