//! What an agent can do to a message, shared by the HTML forms and the JSON API so
//! both enforce the same checks: the message exists, the user may open its
//! mailbox, the input is valid. The store re-checks access inside its transaction.

use facteur_core::{CloseReason, EscalationReason, RejectReason, Role};
use facteur_store::{Message, ValidateReply};

use crate::auth::{random_token, Authed};
use crate::error::{WebError, WebResult};
use crate::i18n::Msg;
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

use facteur_mail::is_placeholder_message_id;

/// Where a reply to a message goes. Computed once by [`reply_recipient`] for both
/// the message page and [`validate`], so what the agent is shown is what is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRecipient {
    /// The address the reply is sent to; `None`: the message cannot be answered.
    pub to: Option<String>,
    /// The sender (From) address.
    pub from: Option<String>,
    /// `to` is the message's Reply-To, which is not the sender. Anyone can set a
    /// Reply-To (web forms and relays do, so do fraudsters), so the page flags it.
    pub via_reply_to: bool,
    /// The message has a Reply-To that is not a usable address: it was ignored
    /// and the reply goes to the sender.
    pub reply_to_ignored: bool,
}

/// The reply goes to the message's Reply-To when it holds a usable address, else
/// to its sender: a message relayed by a web form or a service comes From a
/// no-reply address with the citizen in Reply-To (RFC 5322 §3.6.2). The Reply-To
/// is kept at ingest in the row's `parsed` JSON; only a message stored before that
/// key existed has the header block of its raw message parsed again.
pub async fn reply_recipient(st: &AppState, m: &Message) -> WebResult<ReplyRecipient> {
    let from = m.from_address.clone().filter(|s| !s.trim().is_empty());
    let reply_to = match &m.parsed.reply_to {
        Some(stored) => stored.clone(),
        None => st.store.get_raw(m.id).await?.and_then(|raw| {
            facteur_mail::parse_message(facteur_mail::header_block(&raw))
                .reply_to
                .map(|a| a.address.unwrap_or_default())
        }),
    };
    let usable = reply_to
        .as_deref()
        .map(str::trim)
        .filter(|a| plausible_address(a))
        .map(str::to_string);
    let via_reply_to = match (&usable, &from) {
        (Some(r), Some(f)) => !r.eq_ignore_ascii_case(f.trim()),
        (Some(_), None) => true,
        (None, _) => false,
    };
    Ok(ReplyRecipient {
        reply_to_ignored: reply_to.is_some() && usable.is_none(),
        to: usable.or_else(|| from.clone()),
        from,
        via_reply_to,
    })
}

/// A bare `local@domain` the SMTP sender can address: dot-atom local part (no
/// quoted forms), domain of dot-separated labels of letters, digits and hyphens.
/// Deliberately narrower than RFC 5322: a Reply-To outside it falls back to the
/// sender rather than queueing a reply that cannot leave.
fn plausible_address(a: &str) -> bool {
    let Some((local, domain)) = a.rsplit_once('@') else {
        return false;
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(atext));
    let domain_ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

/// Validate and queue exactly `text`, under the agent's name. Returns the outbox id.
///
/// `confirm_automatic`: the agent ticked "send anyway" after being told the last
/// mail from the recipient was an auto-reply (the store refuses otherwise).
/// `confirm_retired`: the agent confirmed sending a draft built on a retired
/// version of its standard answer (refused otherwise, audited when confirmed).
pub async fn validate(
    st: &AppState,
    a: &Authed,
    id: i64,
    text: &str,
    confirm_automatic: bool,
    confirm_retired: bool,
) -> WebResult<i64> {
    let m = load_message(st, a, id).await?;
    let triage = st.store.latest_triage(id).await?;
    let retired = match &triage {
        Some(tr) => facteur_app::retired_version(&st.store, tr)
            .await
            .map_err(|e| WebError::Internal(e.to_string()))?,
        None => None,
    };
    let retired =
        facteur_app::may_validate(retired, confirm_retired).map_err(|r| WebError::Conflict {
            msg: crate::i18n::Msg::DraftRetiredRefused,
            detail: Some(crate::error::Detail::about(
                crate::i18n::Msg::AnswerVersionLabel,
                format!("{} v{}", r.answer_id, r.version),
            )),
        })?;
    // Browsers send CRLF in textareas; the outbox keeps the agent's text as typed
    // but with one line-ending convention.
    let body = text.replace("\r\n", "\n");
    // The draft was shown masked until the reveal: its placeholders stand for
    // the citizen's real values, which the reply carries.
    let body = match triage.and_then(|t| t.draft_text) {
        Some(draft) => crate::pages::drafts::unmask_draft(&body, &draft, m.from_name.as_deref()),
        None => body,
    };
    // Checked again by the store (whatever the entry point); here so that nothing
    // else is done for a reply that cannot go.
    facteur_core::reply::check_reply(&body).map_err(WebError::ReplyRefused)?;
    let to = reply_recipient(st, &m)
        .await?
        .to
        .ok_or_else(|| WebError::bad(Msg::NoSenderAddress))?;
    let mailbox = st.store.get_mailbox(m.mailbox_id).await?;
    let domain = mailbox
        .as_ref()
        .and_then(|mb| mb.address.rsplit_once('@').map(|(_, d)| d.to_string()))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "facteur.invalid".to_string());
    let mut references: Vec<String> = m.parsed.references.clone();
    // A message without Message-ID is stored under a made-up id: claiming to
    // answer it would point the citizen's mail client at a message that never
    // existed. Its own References (real ids) still thread the reply (RFC 5322
    // §3.6.4: the parent's Message-ID is added "if any").
    let parent = Some(m.message_id.clone()).filter(|id| !is_placeholder_message_id(id));
    references.retain(|r| !is_placeholder_message_id(r));
    references.extend(parent.clone());
    let reply = ValidateReply {
        message_id: m.id,
        user_id: a.user.id,
        body,
        reply_message_id: format!("facteur-{}@{domain}", &random_token()[..32]),
        to_address: to,
        subject: reply_subject(&m.subject),
        in_reply_to: parent,
        references,
        // The mailbox's own delay when an administrator set one.
        send_delay_ms: match st
            .store
            .get_mailbox(m.mailbox_id)
            .await?
            .and_then(|mb| mb.send_delay_seconds())
        {
            Some(s) => i64::from(s) * 1000,
            None => st.config.send_delay_ms(),
        },
    };
    let outbox = if confirm_automatic {
        st.store.validate_and_queue_confirmed(&reply).await?
    } else {
        st.store.validate_and_queue(&reply).await?
    };
    if let Some(r) = retired {
        st.store
            .audit(
                &format!("user:{}", a.user.id),
                "reply.retired_answer_confirmed",
                &format!("message:{id}"),
                &serde_json::json!({"answer": r.answer_id, "version": r.version, "outbox_id": outbox}),
            )
            .await?;
    }
    Ok(outbox)
}

/// Rebuild a message's draft from the version of its standard answer in force
/// (the agent's "Reconstruire depuis la version en vigueur").
pub async fn rebuild(st: &AppState, a: &Authed, id: i64) -> WebResult<()> {
    let m = load_message(st, a, id).await?;
    if !m.state.is_open() {
        return Err(WebError::bad(Msg::NoLongerAwaitsReply));
    }
    let svc = st
        .service
        .as_ref()
        .ok_or_else(|| WebError::Internal("no triage engine to rebuild the draft".to_string()))?;
    svc.retriage_as_corrected(id)
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(())
}

/// After a standard answer changed: rebuild the pending drafts built on a
/// version that is no longer in force (see [`facteur_app::stale`]).
pub async fn rebuild_stale_drafts(st: &AppState) {
    let Some(svc) = &st.service else { return };
    let retriage = |id| async move {
        svc.retriage_as_corrected(id)
            .await
            .map_err(|e| e.to_string())
    };
    if let Err(e) = facteur_app::rebuild_stale_drafts(&st.store, retriage).await {
        tracing::warn!(error = %e, "stale drafts not rebuilt");
    }
}

pub async fn correct(st: &AppState, a: &Authed, id: i64, category: &str) -> WebResult<i64> {
    load_message(st, a, id).await?;
    if !st.taxonomy.contains(category) {
        return Err(WebError::bad_value(Msg::UnknownRequestType, category));
    }
    let action = st.store.correct_category(id, a.user.id, category).await?;
    if let Some(svc) = &st.service {
        // A failed recompute leaves the corrected category in place: the agent can
        // still answer by hand.
        if let Err(e) = svc.retriage_as_corrected(id).await {
            tracing::warn!(message = id, error = %e, "retriage after category correction");
        }
    }
    Ok(action)
}

pub async fn reject(st: &AppState, a: &Authed, id: i64, reason: &str) -> WebResult<i64> {
    load_message(st, a, id).await?;
    let reason = RejectReason::parse(reason)
        .ok_or_else(|| WebError::bad_value(Msg::UnknownRejectReason, reason))?;
    Ok(st.store.reject_draft(id, a.user.id, reason).await?)
}

pub async fn assign(st: &AppState, a: &Authed, id: i64, to_user: i64) -> WebResult<i64> {
    let m = load_message(st, a, id).await?;
    let target = st
        .store
        .get_user(to_user)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| WebError::bad_value(Msg::UnknownUser, to_user))?;
    if target.role == Role::Agent && !st.store.user_can_access(target.id, m.mailbox_id).await? {
        return Err(WebError::bad_value(Msg::UserNoAccess, to_user));
    }
    Ok(st.store.assign(id, a.user.id, to_user).await?)
}

/// Escalate with one of the coded reasons (shown to whoever picks the message up).
pub async fn escalate(st: &AppState, a: &Authed, id: i64, reason: &str) -> WebResult<i64> {
    load_message(st, a, id).await?;
    let reason = EscalationReason::parse(reason)
        .ok_or_else(|| WebError::bad_value(Msg::UnknownEscalationReason, reason))?;
    Ok(st.store.escalate(id, a.user.id, reason).await?)
}

/// Close without a reply, for one of the coded reasons.
pub async fn close(st: &AppState, a: &Authed, id: i64, reason: &str) -> WebResult<i64> {
    load_message(st, a, id).await?;
    let reason = CloseReason::parse(reason)
        .ok_or_else(|| WebError::bad_value(Msg::UnknownCloseReason, reason))?;
    Ok(st
        .store
        .close_without_reply(id, a.user.id, reason, None)
        .await?)
}

/// After message `id` was answered: closes its open duplicates (the same
/// citizen's repeats of the same request) as answered by that reply. One the
/// agent may not open, or that someone else handled meanwhile, stays as it is.
/// Returns how many were closed.
pub async fn close_duplicates(st: &AppState, a: &Authed, id: i64) -> WebResult<usize> {
    let mut closed = 0;
    for d in st.store.open_duplicates(id).await? {
        if load_message(st, a, d).await.is_err() {
            continue;
        }
        match st
            .store
            .close_without_reply(d, a.user.id, CloseReason::Duplicate, Some(id))
            .await
        {
            Ok(_) => closed += 1,
            Err(facteur_store::StoreError::InvalidState { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(closed)
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
    fn plausible_addresses() {
        for ok in [
            "citoyen@y.example",
            "jean.dupont+sip@mairie-lyon.fr",
            "a@localhost",
            "elise@exâmple.fr",
        ] {
            assert!(plausible_address(ok), "{ok}");
        }
        for bad in [
            "",
            "@",
            "citoyen@",
            "@y.example",
            "a b@y.example",
            "a..b@y.example",
            ".a@y.example",
            "élise@y.example",
            "a@y..example",
            "a@-y.example",
            "a@y_z.example",
            "pas une adresse",
            "<a@b.c>",
            "a@b.c\r\nBcc: x@y.z",
        ] {
            assert!(!plausible_address(bad), "{bad}");
        }
    }

    #[test]
    fn reply_subject_adds_re_once() {
        assert_eq!(reply_subject("Prélèvement"), "Re: Prélèvement");
        assert_eq!(reply_subject("RE: x"), "RE: x");
        assert_eq!(reply_subject("Re : x"), "Re : x");
    }
}
