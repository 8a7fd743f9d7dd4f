//! What an agent can do to a message, shared by the HTML forms and the JSON API so
//! both enforce the same checks: the message exists, the user may open its
//! mailbox, the input is valid. The store re-checks access inside its transaction.

use facteur_core::{RejectReason, Role};
use facteur_store::{Message, ValidateReply};

use crate::auth::{random_token, Authed};
use crate::error::{WebError, WebResult};
use crate::AppState;

/// Loads a message the user may see: 404 if missing, 403 if in another mailbox.
pub async fn load_message(st: &AppState, a: &Authed, id: i64) -> WebResult<Message> {
    let m = st.store.get_message(id).await?.ok_or(WebError::NotFound)?;
    a.require_access(m.mailbox_id)?;
    Ok(m)
}

fn reply_subject(subject: &str) -> String {
    let s = subject.trim();
    let lower = s.to_lowercase();
    if lower.starts_with("re:") || lower.starts_with("re :") {
        s.to_string()
    } else {
        format!("Re: {s}")
    }
}

/// Validate and queue exactly `text`, under the agent's name. Returns the outbox id.
pub async fn validate(st: &AppState, a: &Authed, id: i64, text: &str) -> WebResult<i64> {
    let m = load_message(st, a, id).await?;
    // Browsers send CRLF in textareas; the outbox keeps the agent's text as typed
    // but with one line-ending convention.
    let body = text.replace("\r\n", "\n");
    // Checked again by the store (whatever the entry point); here so that nothing
    // else is done for a reply that cannot go.
    facteur_core::reply::check_reply(&body).map_err(WebError::ReplyRefused)?;
    let to = m
        .from_address
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            WebError::bad(
                "Le message n'a pas d'adresse d'expéditeur : impossible d'y répondre.",
                "The message has no sender address: it cannot be answered.",
            )
        })?;
    let mailbox = st.store.get_mailbox(m.mailbox_id).await?;
    let domain = mailbox
        .as_ref()
        .and_then(|mb| mb.address.rsplit_once('@').map(|(_, d)| d.to_string()))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "facteur.invalid".to_string());
    let mut references: Vec<String> = m
        .parsed
        .get("references")
        .and_then(|r| r.as_array())
        .map(|v| {
            v.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    references.push(m.message_id.clone());
    let reply = ValidateReply {
        message_id: m.id,
        user_id: a.user.id,
        body,
        reply_message_id: format!("facteur-{}@{domain}", &random_token()[..32]),
        to_address: to,
        subject: reply_subject(&m.subject),
        in_reply_to: Some(m.message_id.clone()),
        references,
    };
    Ok(st.store.validate_and_queue(&reply).await?)
}

pub async fn correct(st: &AppState, a: &Authed, id: i64, category: &str) -> WebResult<i64> {
    load_message(st, a, id).await?;
    if !st.taxonomy.contains(category) {
        return Err(WebError::bad(
            format!("Type de demande inconnu : « {category} »."),
            format!("Unknown request type '{category}'."),
        ));
    }
    let action = st.store.correct_category(id, a.user.id, category).await?;
    if let Some(engine) = &st.triage {
        // A failed recompute leaves the corrected category in place: the agent can
        // still answer by hand.
        if let Err(e) = engine.retriage(id).await {
            tracing::warn!(message = id, error = %e, "retriage after category correction");
        }
    }
    Ok(action)
}

pub async fn reject(st: &AppState, a: &Authed, id: i64, reason: &str) -> WebResult<i64> {
    load_message(st, a, id).await?;
    let reason = RejectReason::parse(reason).ok_or_else(|| {
        WebError::bad(
            format!("Motif de rejet inconnu : « {reason} »."),
            format!("Unknown reject reason '{reason}'."),
        )
    })?;
    Ok(st.store.reject_draft(id, a.user.id, reason).await?)
}

pub async fn assign(st: &AppState, a: &Authed, id: i64, to_user: i64) -> WebResult<i64> {
    let m = load_message(st, a, id).await?;
    let target = st
        .store
        .get_user(to_user)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| {
            WebError::bad(
                format!("Utilisateur {to_user} inconnu ou désactivé."),
                format!("Unknown or inactive user {to_user}."),
            )
        })?;
    if target.role == Role::Agent && !st.store.user_can_access(target.id, m.mailbox_id).await? {
        return Err(WebError::bad(
            format!("L'utilisateur {to_user} n'a pas accès à cette boîte."),
            format!("User {to_user} has no access to this mailbox."),
        ));
    }
    Ok(st.store.assign(id, a.user.id, to_user).await?)
}

pub async fn escalate(st: &AppState, a: &Authed, id: i64) -> WebResult<i64> {
    load_message(st, a, id).await?;
    Ok(st.store.escalate(id, a.user.id).await?)
}

/// Logs the reveal in the audit (store transaction), then grants this session a
/// time-limited view of the original.
pub async fn reveal(st: &AppState, a: &Authed, id: i64) -> WebResult<()> {
    load_message(st, a, id).await?;
    st.store.reveal_pii_logged(id, a.user.id).await?;
    st.grant_reveal(&a.session.id, id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_subject_adds_re_once() {
        assert_eq!(reply_subject("Prélèvement"), "Re: Prélèvement");
        assert_eq!(reply_subject("RE: x"), "RE: x");
        assert_eq!(reply_subject("Re : x"), "Re : x");
    }
}
