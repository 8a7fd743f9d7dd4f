//! The JSON API: same session, role, mailbox and CSRF checks as the pages (CSRF in
//! the `X-CSRF-Token` header, checked by `auth::session_layer`). The OpenAPI
//! document is hand-written: a dozen routes do not justify a code generator that
//! downloads assets at build time.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use facteur_core::MessageState;
use facteur_store::{QueueQuery, QueueSort};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::actions;
use crate::auth::Authed;
use crate::error::{WebError, WebResult};
use crate::extract::{JsonBody, Path, Query};
use crate::{data, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/me", get(me))
        .route("/api/mailboxes", get(mailboxes))
        .route("/api/messages", get(list_messages))
        .route("/api/messages/{id}", get(get_message))
        .route("/api/messages/{id}/validate", post(validate))
        .route("/api/messages/{id}/correct", post(correct))
        .route("/api/messages/{id}/reject", post(reject))
        .route("/api/messages/{id}/assign", post(assign))
        .route("/api/messages/{id}/escalate", post(escalate))
        .route("/api/outbox", get(outbox))
        .route("/api/kb/search", get(kb_search))
}

#[derive(Deserialize, Default)]
pub struct KbSearchParams {
    pub q: String,
    pub limit: Option<u32>,
}

/// Search this node's knowledge base as its drafting sees it now: lets an agent
/// look an answer up, and an operator check that a node follows the standard
/// answers of the database (the `revision` it was synced at). Read-only; any
/// signed-in role (agents draft from these answers).
async fn kb_search(
    State(st): State<AppState>,
    a: Authed,
    Query(p): Query<KbSearchParams>,
) -> WebResult<Json<Value>> {
    a.require_role(facteur_core::Role::Agent)?;
    let kb = st.kb.clone().ok_or(WebError::NotFound)?;
    let q = p.q.trim().to_string();
    if q.is_empty() || q.len() > 1000 {
        return Err(WebError::bad(
            "La recherche doit compter de 1 à 1000 caractères.",
            "The search must have 1 to 1000 characters.",
        ));
    }
    let limit = p.limit.unwrap_or(10).clamp(1, 50) as usize;
    // Ranking is CPU work: off the async workers.
    let (revision, hits) = tokio::task::spawn_blocking(move || kb.search(&q, limit))
        .await
        .map_err(|e| WebError::Internal(format!("kb search task: {e}")))?
        .map_err(WebError::Internal)?;
    Ok(Json(json!({ "revision": revision, "hits": hits })))
}

pub async fn health(State(st): State<AppState>) -> (axum::http::StatusCode, Json<Value>) {
    match st.store.count_messages(None).await {
        Ok(_) => (
            axum::http::StatusCode::OK,
            Json(json!({
                "status": "ok", "database": "ok", "version": env!("CARGO_PKG_VERSION"),
                "retrieval": if st.config.embedding_model.is_some() { "hybrid" } else { "lexical" },
                "embedding_model": st.config.embedding_model,
            })),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health check");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "error", "database": "unavailable"})),
            )
        }
    }
}

async fn me(a: Authed) -> Json<Value> {
    Json(json!({
        "id": a.user.id,
        "username": a.user.username,
        "display_name": a.user.display_name,
        "role": a.user.role.as_str(),
        "mailboxes": a.mailboxes,
        "csrf_token": a.csrf(),
    }))
}

async fn mailboxes(State(st): State<AppState>, a: Authed) -> WebResult<Json<Value>> {
    let list: Vec<Value> = st
        .store
        .list_mailboxes()
        .await?
        .into_iter()
        .filter(|m| a.can_access(m.id))
        .map(|m| json!({"id": m.id, "name": m.name, "address": m.address}))
        .collect();
    Ok(Json(json!({ "mailboxes": list })))
}

#[derive(Deserialize, Default)]
pub struct ListParams {
    pub mailbox: Option<i64>,
    /// A message state code or a tab name (`ready`, `research`, …).
    pub state: Option<String>,
    pub category: Option<String>,
    pub sort: Option<String>,
    pub after: Option<String>,
    pub limit: Option<u32>,
}

async fn list_messages(
    State(st): State<AppState>,
    a: Authed,
    Query(p): Query<ListParams>,
) -> WebResult<Json<Value>> {
    let mailbox_ids = match p.mailbox {
        Some(mb) => {
            a.require_access(mb)?;
            Some(vec![mb])
        }
        None if a.user.role.sees_all_mailboxes() => None,
        None => Some(a.mailboxes.clone()),
    };
    let states: Vec<MessageState> = match p.state.as_deref().filter(|s| !s.is_empty()) {
        None => Vec::new(),
        Some(s) => match MessageState::parse(s) {
            Some(state) => vec![state],
            None => crate::pages::queue::tab_states(s)
                .ok_or_else(|| {
                    WebError::bad(
                        format!("État inconnu : « {s} »."),
                        format!("Unknown state '{s}'."),
                    )
                })?
                .to_vec(),
        },
    };
    let page = crate::pages::queue::queue_page(p.after.as_deref())?;
    let limit = p.limit.unwrap_or(50).clamp(1, 500);
    let rows = st
        .store
        .list_queue(&QueueQuery {
            mailbox_ids,
            states,
            category: p.category.filter(|c| !c.is_empty()),
            assigned_to: None,
            search: None,
            received: None,
            sort: if p.sort.as_deref() == Some("confidence") {
                QueueSort::Confidence
            } else {
                QueueSort::Age
            },
            page,
            limit,
        })
        .await?;
    let next = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|r| r.cursor.encode()))
        .flatten();
    let rules = if rows
        .iter()
        .any(|r| r.state == MessageState::ReadyToValidate)
    {
        Some(st.suggestions.rules().await)
    } else {
        None
    };
    // Subject pseudonymised and sender omitted unless this session revealed the
    // message (the audited UI action); a draft a kill switch withdrew is not ready.
    let messages: Vec<Value> = rows
        .iter()
        .map(|r| {
            let revealed = st.is_revealed(&a.session.id, r.id);
            let mut v = json!({
                "id": r.id,
                "mailbox_id": r.mailbox_id,
                "subject": facteur_app::shown_subject(&r.subject, r.from_name.as_deref(), revealed),
                "received_at": r.received_at,
                "state": r.state,
                "category": r.category,
                "confidence": r.confidence,
                "assigned_to": r.assigned_to,
                "sender": facteur_app::masked_sender(r.from_name.as_deref(), r.from_address.as_deref()),
                "draft_ready": r.state == MessageState::ReadyToValidate
                    && rules.as_ref().is_some_and(|rl| !rl.withdrawn(r.mailbox_id, r.category.as_deref())),
            });
            if revealed {
                v["from_name"] = json!(r.from_name);
            }
            v
        })
        .collect();
    Ok(Json(json!({ "messages": messages, "next": next })))
}

async fn get_message(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> WebResult<Json<Value>> {
    let m = actions::load_message(&st, &a, id).await?;
    let mut triage = st.store.latest_triage(id).await?;
    // Same rule as the page: a kill switch covering the mailbox or the draft's
    // request type withdraws the prepared draft.
    let mut withdrawn = false;
    if let Some(tr) = triage.as_mut().filter(|tr| tr.draft_text.is_some()) {
        withdrawn = st
            .suggestions
            .rules()
            .await
            .withdrawn(m.mailbox_id, tr.category.as_deref());
        if withdrawn {
            tr.draft_text = None;
        }
    }
    let revealed = st.is_revealed(&a.session.id, id);
    if let Some(tr) = triage.as_mut() {
        tr.draft_text = tr
            .draft_text
            .as_deref()
            .map(|d| crate::pages::drafts::shown_draft(d, m.from_name.as_deref(), revealed));
    }
    // Where `POST /api/messages/{id}/validate` would send the reply: the same
    // computation as the page and the action. Whether it is someone other than
    // the sender is always said; the address itself is personal data.
    let recipient = actions::reply_recipient(&st, &m).await?;
    // The pseudonymised text and subject only: unmasking goes through the audited
    // UI action, after which the original subject and sender show here too.
    let mut v = json!({
        "id": m.id,
        "mailbox_id": m.mailbox_id,
        "subject": facteur_app::shown_subject(&m.subject, m.from_name.as_deref(), revealed),
        "received_at": m.received_at,
        "state": m.state,
        "category": m.category,
        "confidence": m.confidence,
        "assigned_to": m.assigned_to,
        "language": m.language,
        "pii_kinds": m.pii_kinds,
        "flags": m.flags,
        "text": m.pseudonymised_text,
        "triage": triage,
        "draft_withdrawn": withdrawn,
        "reply_via_reply_to": recipient.via_reply_to,
    });
    if revealed {
        v["from_name"] = json!(m.from_name);
        v["from_address"] = json!(m.from_address);
        v["reply_address"] = json!(recipient.to);
    }
    Ok(Json(v))
}

#[derive(Deserialize)]
pub struct ValidateBody {
    pub text: String,
    /// Send although the last mail from the recipient was an auto-reply.
    #[serde(default)]
    pub confirm_automatic: bool,
    /// Send although the draft rests on a retired standard-answer version.
    #[serde(default)]
    pub confirm_retired: bool,
}

async fn validate(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<ValidateBody>,
) -> WebResult<Json<Value>> {
    let outbox_id =
        actions::validate(&st, &a, id, &b.text, b.confirm_automatic, b.confirm_retired).await?;
    Ok(Json(json!({"outbox_id": outbox_id})))
}

#[derive(Deserialize)]
pub struct CorrectBody {
    pub category: String,
}

async fn correct(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<CorrectBody>,
) -> WebResult<Json<Value>> {
    let action_id = actions::correct(&st, &a, id, &b.category).await?;
    Ok(Json(json!({"action_id": action_id})))
}

/// A coded reason: reject (`RejectReason`) or escalate (`EscalationReason`).
#[derive(Deserialize)]
pub struct ReasonBody {
    pub reason: String,
}

async fn reject(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<ReasonBody>,
) -> WebResult<Json<Value>> {
    let action_id = actions::reject(&st, &a, id, &b.reason).await?;
    Ok(Json(json!({"action_id": action_id})))
}

#[derive(Deserialize)]
pub struct AssignBody {
    pub user_id: i64,
}

async fn assign(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<AssignBody>,
) -> WebResult<Json<Value>> {
    let action_id = actions::assign(&st, &a, id, b.user_id).await?;
    Ok(Json(json!({"action_id": action_id})))
}

async fn escalate(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<ReasonBody>,
) -> WebResult<Json<Value>> {
    let action_id = actions::escalate(&st, &a, id, &b.reason).await?;
    Ok(Json(json!({"action_id": action_id})))
}

async fn outbox(State(st): State<AppState>, a: Authed) -> WebResult<Json<Value>> {
    let filter = (!a.user.role.sees_all_mailboxes()).then(|| a.mailboxes.clone());
    let items = data::outbox_items(&st.store, filter, 200).await?;
    let items: Vec<Value> = items
        .into_iter()
        .map(|listed| {
            let o = listed.item;
            json!({
                "id": o.id, "message_id": o.message_id,
                "subject": facteur_app::shown_subject(&o.subject, listed.from_name.as_deref(), st.is_revealed(&a.session.id, o.message_id)),
                "state": o.state, "attempts": o.attempts, "validated_by": o.validated_by,
                "validated_by_name": o.validated_by_name, "created_at": o.created_at,
                "sent_at": o.sent_at, "last_error": o.last_error.as_deref().map(crate::pages::drafts::shown_relay_error),
                "next_attempt_at": o.next_attempt_at,
                "delivery_confirmed_at": o.delivery_confirmed_at,
            })
        })
        .collect();
    Ok(Json(json!({ "outbox": items })))
}

async fn openapi() -> Json<Value> {
    Json(openapi_doc())
}

/// The OpenAPI 3.1 description of the routes above.
pub fn openapi_doc() -> Value {
    let err = || json!({"$ref": "#/components/responses/Error"});
    let id_param =
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}});
    let csrf = json!({"name": "X-CSRF-Token", "in": "header", "required": true, "schema": {"type": "string"},
        "description": "The session's CSRF token (from GET /api/me)."});
    let action = |summary: &str, body: Option<Value>| {
        let mut op = json!({
            "summary": summary,
            "parameters": [id_param.clone(), csrf.clone()],
            "responses": {
                "200": {"description": "Done", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": err(), "401": err(), "403": err(), "404": err(), "409": err()
            }
        });
        if let Some(schema) = body {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema}}});
        }
        json!({ "post": op })
    };
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Facteur API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Agents' API. Authentication: the session cookie from POST /login; every POST needs the X-CSRF-Token header."},
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE}},
            "responses": {"Error": {"description": "Error", "content": {"application/json": {"schema": {
                "type": "object", "required": ["error", "message"],
                "properties": {"error": {"type": "string", "enum": ["unauthenticated","forbidden","not_found","bad_request","conflict","csrf","rate_limited","internal"]},
                               "message": {"type": "string"}}}}}}}
        },
        "security": [{"session": []}],
        "paths": {
            "/health": {"get": {"summary": "Liveness and database check", "security": [], "responses": {"200": {"description": "OK"}, "503": {"description": "Database unavailable"}}}},
            "/api/me": {"get": {"summary": "The signed-in user, their mailboxes and CSRF token", "responses": {"200": {"description": "OK"}, "401": err()}}},
            "/api/mailboxes": {"get": {"summary": "Mailboxes the user may open", "responses": {"200": {"description": "OK"}, "401": err()}}},
            "/api/messages": {"get": {
                "summary": "The work queue, keyset-paged",
                "parameters": [
                    {"name": "mailbox", "in": "query", "schema": {"type": "integer"}},
                    {"name": "state", "in": "query", "schema": {"type": "string"}, "description": "A state code (new, ready_to_validate, needs_research, escalated, abstained, validated, sent, closed) or a tab (new, ready, research, escalated, outgoing, sent, all)."},
                    {"name": "category", "in": "query", "schema": {"type": "string"}},
                    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["age", "confidence"]}},
                    {"name": "after", "in": "query", "schema": {"type": "string"}, "description": "The `next` cursor of the previous page."},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}
                ],
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "messages": {"type": "array", "items": {"type": "object"}}, "next": {"type": ["string", "null"]}}}}}},
                    "400": err(), "401": err(), "403": err()}}},
            "/api/messages/{id}": {"get": {"summary": "A message (pseudonymised text and subject; sender only after the audited reveal in the UI) and its latest triage (draft_text null and draft_withdrawn true when a kill switch covers it)",
                "parameters": [id_param.clone()], "responses": {"200": {"description": "OK"}, "401": err(), "403": err(), "404": err()}}},
            "/api/messages/{id}/validate": action("Validate and queue exactly this text, signed by the caller",
                Some(json!({"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}))),
            "/api/messages/{id}/correct": action("Correct the request type",
                Some(json!({"type": "object", "required": ["category"], "properties": {"category": {"type": "string"}}}))),
            "/api/messages/{id}/reject": action("Reject the draft with a reason",
                Some(json!({"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string",
                    "enum": ["wrong_type", "outdated_answer", "needs_research", "tone", "other"]}}}))),
            "/api/messages/{id}/assign": action("Assign to a user",
                Some(json!({"type": "object", "required": ["user_id"], "properties": {"user_id": {"type": "integer"}}}))),
            "/api/messages/{id}/escalate": action("Escalate with a coded reason",
                Some(json!({"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string",
                    "enum": ["personal_research", "complaint", "legal", "other_service", "other"]}}}))),
            "/api/outbox": {"get": {"summary": "Validated replies and their sending state", "responses": {"200": {"description": "OK"}, "401": err()}}},
            "/api/kb/search": {"get": {"summary": "Search this node's knowledge base (usable standard answers and fiches) as drafting sees it now",
                "parameters": [
                    {"name": "q", "in": "query", "required": true, "schema": {"type": "string", "maxLength": 1000}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50}}
                ],
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "revision": {"type": ["integer", "null"], "description": "The database's knowledge-base revision this node's answers were synced at."},
                    "hits": {"type": "array", "items": {"type": "object"}}}}}}},
                    "400": err(), "401": err(), "404": err()}}}
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn openapi_lists_every_api_route() {
        let doc = super::openapi_doc();
        assert_eq!(doc["openapi"], "3.1.0");
        for p in [
            "/api/messages",
            "/api/messages/{id}",
            "/api/messages/{id}/validate",
            "/api/messages/{id}/reject",
            "/api/outbox",
            "/api/kb/search",
        ] {
            assert!(doc["paths"].get(p).is_some(), "{p} missing");
        }
    }
}
