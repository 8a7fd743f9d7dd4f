//! The JSON API: same session, role, mailbox and CSRF checks as the pages (CSRF in
//! the `X-CSRF-Token` header, checked by `auth::session_layer`). Every response is
//! a typed struct, and the OpenAPI document is generated from those same types
//! (utoipa), so the description cannot drift from what the handlers return.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use facteur_core::MessageState;
use facteur_store::{QueueQuery, QueueSort};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use crate::actions;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::error::{WebError, WebResult};
use crate::extract::{JsonBody, Path, Query};
use crate::i18n::Msg;
use crate::{data, AppState, KbHit};

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

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KbSearchParams {
    /// 1 to 1000 characters.
    pub q: String,
    /// 1 to 50, default 10.
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct KbSearchResult {
    /// The database's knowledge-base revision this node's answers were synced at.
    pub revision: Option<i64>,
    /// Usable standard answers (with their text) and fiches, best first.
    #[schema(value_type = Vec<Object>)]
    pub hits: Vec<KbHit>,
}

/// Search this node's knowledge base as its drafting sees it now: lets an agent
/// look an answer up, and an operator check that a node follows the standard
/// answers of the database (the `revision` it was synced at). Read-only; any
/// signed-in role (agents draft from these answers).
#[utoipa::path(get, path = "/api/kb/search", params(KbSearchParams),
    responses((status = 200, body = KbSearchResult), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 404, body = ApiError)))]
async fn kb_search(
    State(st): State<AppState>,
    a: Authed,
    Query(p): Query<KbSearchParams>,
) -> WebResult<Json<KbSearchResult>> {
    a.require_role(facteur_core::Role::Agent)?;
    let svc = st.service.clone().ok_or(WebError::NotFound)?;
    let q = p.q.trim().to_string();
    if q.is_empty() || q.len() > 1000 {
        return Err(WebError::bad(Msg::SearchLength));
    }
    let limit = p.limit.unwrap_or(10).clamp(1, 50) as usize;
    // Ranking is CPU work: off the async workers.
    let (revision, hits) = tokio::task::spawn_blocking(move || svc.search_kb(&q, limit))
        .await
        .map_err(|e| WebError::Internal(format!("kb search task: {e}")))?
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(Json(KbSearchResult { revision, hits }))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `error`.
    pub status: &'static str,
    /// `ok` or `unavailable`.
    pub database: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'static str>,
    /// `hybrid` (with an embedding model) or `lexical`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrieval: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
}

/// Liveness and database check, without a session (for load balancers).
#[utoipa::path(get, path = "/health", security(()),
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(st): State<AppState>) -> (axum::http::StatusCode, Json<Health>) {
    match st.store.count_messages(None).await {
        Ok(_) => (
            axum::http::StatusCode::OK,
            Json(Health {
                status: "ok",
                database: "ok",
                version: Some(env!("CARGO_PKG_VERSION")),
                retrieval: Some(if st.config.embedding_model.is_some() {
                    "hybrid"
                } else {
                    "lexical"
                }),
                embedding_model: st.config.embedding_model.clone(),
            }),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health check");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "error",
                    database: "unavailable",
                    version: None,
                    retrieval: None,
                    embedding_model: None,
                }),
            )
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// `agent`, `supervisor` or `admin`.
    pub role: &'static str,
    /// The mailboxes this user may open.
    pub mailboxes: Vec<i64>,
    /// Send it back in the `X-CSRF-Token` header of every POST.
    pub csrf_token: String,
}

/// The signed-in user, their mailboxes and CSRF token.
#[utoipa::path(get, path = "/api/me",
    responses((status = 200, body = Me), (status = 401, body = ApiError)))]
async fn me(a: Authed) -> Json<Me> {
    Json(Me {
        id: a.user.id,
        username: a.user.username.clone(),
        display_name: a.user.display_name.clone(),
        role: a.user.role.as_str(),
        mailboxes: a.mailboxes.clone(),
        csrf_token: a.csrf().to_string(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct Mailbox {
    pub id: i64,
    pub name: String,
    pub address: String,
}

#[derive(Serialize, ToSchema)]
pub struct Mailboxes {
    pub mailboxes: Vec<Mailbox>,
}

/// Mailboxes the user may open.
#[utoipa::path(get, path = "/api/mailboxes",
    responses((status = 200, body = Mailboxes), (status = 401, body = ApiError)))]
async fn mailboxes(State(st): State<AppState>, a: Authed) -> WebResult<Json<Mailboxes>> {
    let mailboxes = st
        .store
        .list_mailboxes()
        .await?
        .into_iter()
        .filter(|m| a.can_access(m.id))
        .map(|m| Mailbox {
            id: m.id,
            name: m.name,
            address: m.address,
        })
        .collect();
    Ok(Json(Mailboxes { mailboxes }))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub mailbox: Option<i64>,
    /// A state code (new, ready_to_validate, needs_research, escalated,
    /// abstained, validated, sent, closed) or a tab (new, ready, research,
    /// escalated, outgoing, sent, all).
    pub state: Option<String>,
    pub category: Option<String>,
    /// `age` (default) or `confidence`.
    pub sort: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// 1 to 500, default 50.
    pub limit: Option<u32>,
}

/// What a queue row and a message share: the subject pseudonymised unless this
/// session revealed the message (the audited UI action).
#[derive(Serialize, ToSchema)]
pub struct MessageHead {
    pub id: i64,
    pub mailbox_id: i64,
    pub subject: String,
    /// Milliseconds since the epoch.
    pub received_at: i64,
    #[schema(value_type = String)]
    pub state: MessageState,
    pub category: Option<String>,
    pub confidence: Option<f32>,
    pub assigned_to: Option<i64>,
}

/// A queue row; the sender masked unless revealed.
#[derive(Serialize, ToSchema)]
pub struct QueueItem {
    #[serde(flatten)]
    pub head: MessageHead,
    /// Initials and domain.
    pub sender: String,
    /// A draft waits for validation (and no kill switch withdrew it).
    pub draft_ready: bool,
    /// Only once revealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct QueuePage {
    pub messages: Vec<QueueItem>,
    /// The cursor of the next page, `null` on the last one.
    pub next: Option<String>,
}

/// The work queue, keyset-paged.
#[utoipa::path(get, path = "/api/messages", params(ListParams),
    responses((status = 200, body = QueuePage), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_messages(
    State(st): State<AppState>,
    a: Authed,
    Query(p): Query<ListParams>,
) -> WebResult<Json<QueuePage>> {
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
            None => crate::pages::tabs::tab_states(s)
                .ok_or_else(|| WebError::bad_value(Msg::UnknownState, s))?
                .to_vec(),
        },
    };
    let page = crate::pages::tabs::queue_page(p.after.as_deref())?;
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
    let messages = rows
        .iter()
        .map(|r| {
            let revealed = st.is_revealed(&a.session.id, r.id);
            QueueItem {
                head: MessageHead {
                    id: r.id,
                    mailbox_id: r.mailbox_id,
                    subject: facteur_app::shown_subject(
                        &r.subject,
                        r.subject_pseudonymised.as_deref(),
                        r.from_name.as_deref(),
                        revealed,
                    ),
                    received_at: r.received_at,
                    state: r.state,
                    category: r.category.clone(),
                    confidence: r.confidence,
                    assigned_to: r.assigned_to,
                },
                sender: facteur_app::masked_sender(
                    r.from_name.as_deref(),
                    r.from_address.as_deref(),
                ),
                draft_ready: r.state == MessageState::ReadyToValidate
                    && rules
                        .as_ref()
                        .is_some_and(|rl| !rl.withdrawn(r.mailbox_id, r.category.as_deref())),
                from_name: r.from_name.clone().filter(|_| revealed),
            }
        })
        .collect();
    Ok(Json(QueuePage { messages, next }))
}

/// A message with its latest triage. The text and subject are pseudonymised;
/// the sender and the reply's address only appear once this session revealed
/// the message (the audited UI action).
#[derive(Serialize, ToSchema)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub head: MessageHead,
    pub language: Option<String>,
    #[schema(value_type = Vec<String>)]
    pub pii_kinds: Vec<facteur_core::PiiKind>,
    pub flags: Vec<String>,
    pub text: String,
    /// Category, confidence, route, answer and version, draft, passages and
    /// candidates; `draft_text` is null when a kill switch withdrew the draft.
    #[schema(value_type = Option<Object>)]
    pub triage: Option<facteur_store::TriageResult>,
    pub draft_withdrawn: bool,
    /// The reply goes to the Reply-To address, not the sender's.
    pub reply_via_reply_to: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_address: Option<String>,
}

/// A message and its latest triage.
#[utoipa::path(get, path = "/api/messages/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = MessageDetail), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn get_message(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> WebResult<Json<MessageDetail>> {
    let m = actions::load_message(&st, &a, id).await?;
    let mut triage = st.store.latest_triage(id).await?;
    if let (Some(svc), Some(tr)) = (&st.service, triage.as_mut()) {
        crate::pages::message::explain_passages(svc, &m, &mut tr.passages).await;
    }
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
    Ok(Json(MessageDetail {
        head: MessageHead {
            id: m.id,
            mailbox_id: m.mailbox_id,
            subject: facteur_app::shown_subject(
                &m.subject,
                m.subject_pseudonymised.as_deref(),
                m.from_name.as_deref(),
                revealed,
            ),
            received_at: m.received_at,
            state: m.state,
            category: m.category,
            confidence: m.confidence,
            assigned_to: m.assigned_to,
        },
        language: m.language,
        pii_kinds: m.pii_kinds,
        flags: m.flags,
        text: m.pseudonymised_text,
        triage,
        draft_withdrawn: withdrawn,
        reply_via_reply_to: recipient.via_reply_to,
        from_name: m.from_name.filter(|_| revealed),
        from_address: m.from_address.filter(|_| revealed),
        reply_address: recipient.to.filter(|_| revealed),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct ValidateBody {
    /// Exactly the text to send.
    pub text: String,
    /// Send although the last mail from the recipient was an auto-reply.
    #[serde(default)]
    pub confirm_automatic: bool,
    /// Send although the draft rests on a retired standard-answer version.
    #[serde(default)]
    pub confirm_retired: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Validated {
    pub outbox_id: i64,
}

/// What an action recorded.
#[derive(Serialize, ToSchema)]
pub struct ActionDone {
    pub action_id: i64,
}

/// Validate and queue exactly this text, signed by the caller.
#[utoipa::path(post, path = "/api/messages/{id}/validate", params(("id" = i64, Path), CsrfHeader),
    request_body = ValidateBody,
    responses((status = 200, body = Validated), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn validate(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<ValidateBody>,
) -> WebResult<Json<Validated>> {
    let outbox_id =
        actions::validate(&st, &a, id, &b.text, b.confirm_automatic, b.confirm_retired).await?;
    Ok(Json(Validated { outbox_id }))
}

#[derive(Deserialize, ToSchema)]
pub struct CorrectBody {
    /// A request type of the taxonomy.
    pub category: String,
}

/// Correct the request type (recorded as feedback; the draft follows).
#[utoipa::path(post, path = "/api/messages/{id}/correct", params(("id" = i64, Path), CsrfHeader),
    request_body = CorrectBody,
    responses((status = 200, body = ActionDone), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn correct(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<CorrectBody>,
) -> WebResult<Json<ActionDone>> {
    let action_id = actions::correct(&st, &a, id, &b.category).await?;
    Ok(Json(ActionDone { action_id }))
}

/// A coded reason: reject (`wrong_type`, `outdated_answer`, `needs_research`,
/// `tone`, `other`) or escalate (`personal_research`, `complaint`, `legal`,
/// `other_service`, `other`).
#[derive(Deserialize, ToSchema)]
pub struct ReasonBody {
    pub reason: String,
}

/// Reject the draft with a reason.
#[utoipa::path(post, path = "/api/messages/{id}/reject", params(("id" = i64, Path), CsrfHeader),
    request_body = ReasonBody,
    responses((status = 200, body = ActionDone), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn reject(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<ReasonBody>,
) -> WebResult<Json<ActionDone>> {
    let action_id = actions::reject(&st, &a, id, &b.reason).await?;
    Ok(Json(ActionDone { action_id }))
}

#[derive(Deserialize, ToSchema)]
pub struct AssignBody {
    pub user_id: i64,
}

/// Assign to a user.
#[utoipa::path(post, path = "/api/messages/{id}/assign", params(("id" = i64, Path), CsrfHeader),
    request_body = AssignBody,
    responses((status = 200, body = ActionDone), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn assign(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<AssignBody>,
) -> WebResult<Json<ActionDone>> {
    let action_id = actions::assign(&st, &a, id, b.user_id).await?;
    Ok(Json(ActionDone { action_id }))
}

/// Escalate with a coded reason.
#[utoipa::path(post, path = "/api/messages/{id}/escalate", params(("id" = i64, Path), CsrfHeader),
    request_body = ReasonBody,
    responses((status = 200, body = ActionDone), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn escalate(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<ReasonBody>,
) -> WebResult<Json<ActionDone>> {
    let action_id = actions::escalate(&st, &a, id, &b.reason).await?;
    Ok(Json(ActionDone { action_id }))
}

/// A validated reply and its sending state; the subject masked as on the pages.
#[derive(Serialize, ToSchema)]
pub struct OutboxEntry {
    pub id: i64,
    pub message_id: i64,
    pub subject: String,
    /// `pending`, `sending`, `sent`, `failed`, `undelivered`…
    #[schema(value_type = String)]
    pub state: facteur_core::OutboxState,
    pub attempts: i64,
    pub validated_by: i64,
    pub validated_by_name: String,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    /// The relay's error, personal data masked.
    pub last_error: Option<String>,
    pub next_attempt_at: Option<i64>,
    pub delivery_confirmed_at: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct Outbox {
    pub outbox: Vec<OutboxEntry>,
}

/// Validated replies and their sending state, newest first.
#[utoipa::path(get, path = "/api/outbox",
    responses((status = 200, body = Outbox), (status = 401, body = ApiError)))]
async fn outbox(State(st): State<AppState>, a: Authed) -> WebResult<Json<Outbox>> {
    let filter = (!a.user.role.sees_all_mailboxes()).then(|| a.mailboxes.clone());
    let items = data::outbox_items(&st.store, filter, 200).await?;
    let outbox = items
        .into_iter()
        .map(|listed| {
            let o = listed.item;
            let revealed = st.is_revealed(&a.session.id, o.message_id);
            OutboxEntry {
                id: o.id,
                message_id: o.message_id,
                // The reply's own subject ("Re: …"): triage never saw it.
                subject: facteur_app::shown_subject(
                    &o.subject,
                    None,
                    listed.from_name.as_deref(),
                    revealed,
                ),
                state: o.state,
                attempts: o.attempts,
                validated_by: o.validated_by,
                validated_by_name: o.validated_by_name,
                created_at: o.created_at,
                sent_at: o.sent_at,
                last_error: o
                    .last_error
                    .as_deref()
                    .map(crate::pages::drafts::shown_relay_error),
                next_attempt_at: o.next_attempt_at,
                delivery_confirmed_at: o.delivery_confirmed_at,
            }
        })
        .collect();
    Ok(Json(Outbox { outbox }))
}

/// The session's CSRF token, required on every POST.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Only describes the header for the OpenAPI document.
struct CsrfHeader {
    /// The session's CSRF token (from `GET /api/me`).
    #[param(rename = "X-CSRF-Token")]
    x_csrf_token: String,
}

/// The session cookie from `POST /login`.
struct SessionCookie;

impl Modify for SessionCookie {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "session",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                    crate::auth::SESSION_COOKIE,
                ))),
            );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Facteur API",
         description = "Agents' API. Authentication: the session cookie from POST /login; every POST needs the X-CSRF-Token header."),
    paths(health, me, mailboxes, list_messages, get_message, validate, correct, reject, assign,
          escalate, outbox, kb_search),
    modifiers(&SessionCookie),
    security(("session" = []))
)]
struct ApiDoc;

/// The OpenAPI 3.1 description of the routes above, generated from their types.
pub fn openapi_doc() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi_doc())
}

#[cfg(test)]
mod tests {
    #[test]
    fn openapi_lists_every_api_route_with_typed_responses() {
        let doc = serde_json::to_value(super::openapi_doc()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        for p in [
            "/health",
            "/api/me",
            "/api/mailboxes",
            "/api/messages",
            "/api/messages/{id}",
            "/api/messages/{id}/validate",
            "/api/messages/{id}/correct",
            "/api/messages/{id}/reject",
            "/api/messages/{id}/assign",
            "/api/messages/{id}/escalate",
            "/api/outbox",
            "/api/kb/search",
        ] {
            assert!(doc["paths"].get(p).is_some(), "{p} missing");
        }
        let schemas = &doc["components"]["schemas"];
        for s in [
            "QueuePage",
            "QueueItem",
            "MessageDetail",
            "ApiError",
            "ValidateBody",
        ] {
            assert!(schemas.get(s).is_some(), "schema {s} missing: {schemas}");
        }
        let validate = &doc["paths"]["/api/messages/{id}/validate"]["post"];
        let params = validate["parameters"].to_string();
        assert!(params.contains("X-CSRF-Token"), "{params}");
        assert_eq!(
            doc["components"]["securitySchemes"]["session"]["in"],
            "cookie"
        );
    }
}
