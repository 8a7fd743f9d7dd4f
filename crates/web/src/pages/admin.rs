//! Administration: users and mailboxes.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use facteur_core::Role;
use facteur_store::{NewMailbox, NewUser};
use maud::html;
use serde::Deserialize;

use crate::auth::{self, Authed};
use crate::error::{WebError, WebResult};
use crate::extract::{Form, Path};
use crate::i18n::{Lang, Msg};
use crate::views::{csrf_input, page, role_label, table_frame};
use crate::AppState;

pub async fn users(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Admin)?;
    let t = |m: Msg| m.text(lang);
    let users = st.store.list_users().await?;
    let mailboxes = st.store.list_mailboxes().await?;
    let body = html! {
        (table_frame(html! {
        table #users {
            thead { tr {
                th scope="col" { (t(Msg::Username)) }
                th scope="col" { (t(Msg::DisplayName)) }
                th scope="col" { (t(Msg::Role)) }
                th scope="col" { (t(Msg::Active)) }
                th scope="col" { "" }
            } }
            tbody {
                @for u in &users {
                    tr.user-row {
                        td { (u.username) } td { (u.display_name) } td { (role_label(lang, u.role)) }
                        td { (if u.active { t(Msg::Yes) } else { t(Msg::No) }) }
                        td {
                            @if u.active && u.id != a.user.id {
                                form method="post" action={ "/admin/users/" (u.id) "/deactivate" } {
                                    (csrf_input(&a)) button.fr-btn.fr-btn--secondary type="submit" { (t(Msg::Deactivate)) }
                                }
                            } @else if !u.active {
                                form method="post" action={ "/admin/users/" (u.id) "/reactivate" } {
                                    (csrf_input(&a)) button.fr-btn type="submit" { (t(Msg::Reactivate)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        }))
        h2 { (t(Msg::NewAccount)) }
        form #user-form method="post" action="/admin/users" {
            (csrf_input(&a))
            p { label for="nu-username" { (t(Msg::Username)) } input #nu-username name="username" required; }
            p { label for="nu-display" { (t(Msg::DisplayName)) } input #nu-display name="display_name" required; }
            p { label for="nu-password" { (t(Msg::Password)) } input #nu-password type="password" name="password" autocomplete="new-password" minlength="12" required; }
            p {
                label for="nu-role" { (t(Msg::Role)) }
                select #nu-role name="role" { @for r in Role::ALL { option value=(r.as_str()) { (role_label(lang, *r)) } } }
            }
            fieldset {
                legend { (t(Msg::Mailboxes)) }
                @for mb in &mailboxes {
                    input type="checkbox" name="mailbox" value=(mb.id) id={ "nu-mb-" (mb.id) };
                    label for={ "nu-mb-" (mb.id) } { (mb.name) }
                }
            }
            button.fr-btn type="submit" { (t(Msg::Create)) }
        }
    };
    Ok(page(lang, t(Msg::Accounts), Some(&a), body).into_response())
}

pub async fn user_create(
    State(st): State<AppState>,
    a: Authed,
    body: Bytes,
) -> WebResult<Response> {
    a.require_role(Role::Admin)?;
    // Repeated `mailbox` fields: parsed by hand (serde_urlencoded has no Vec).
    let pairs = auth::form_pairs(&body);
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let (username, display_name, password) =
        (get("username"), get("display_name"), get("password"));
    let role = Role::parse(&get("role")).ok_or_else(|| WebError::bad(Msg::UnknownRole))?;
    if username.is_empty() || display_name.is_empty() {
        return Err(WebError::bad(Msg::UsernameAndNameRequired));
    }
    if !auth::password_long_enough(&password) {
        return Err(WebError::bad(Msg::PasswordTooShort));
    }
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))??;
    let id = st
        .store
        .create_user(
            &NewUser {
                username,
                display_name,
                password_hash: hash,
                role,
            },
            Some(a.user.id),
        )
        .await
        .map_err(|e| WebError::store_conflict_as(e, Msg::UsernameTaken))?;
    for (_, v) in pairs.iter().filter(|(k, _)| k == "mailbox") {
        let mb: i64 = v
            .parse()
            .map_err(|_| WebError::bad(Msg::InvalidMailboxId))?;
        st.store
            .set_mailbox_access(id, mb, true, Some(a.user.id))
            .await?;
    }
    Ok(Redirect::to("/admin/users?ok=user-created").into_response())
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    /// "1" once the administrator confirmed on the page this form first shows.
    #[serde(default)]
    pub confirm: Option<String>,
}

/// `POST /admin/users/{id}/deactivate`: first a page asking to confirm (no
/// script needed), then, confirmed, the account is deactivated and its
/// sessions end. The last active administrator is refused (by the store).
pub async fn user_deactivate(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Path(id): Path<i64>,
    Form(f): Form<ConfirmForm>,
) -> WebResult<Response> {
    a.require_role(Role::Admin)?;
    if id == a.user.id {
        return Err(WebError::bad(Msg::CannotDeactivateSelf));
    }
    let u = st.store.get_user(id).await?.ok_or(WebError::NotFound)?;
    if f.confirm.as_deref() != Some("1") {
        let t = |m: Msg| m.text(lang);
        let body = html! {
            p #confirm-deactivate role="alert" { strong { (u.display_name) } " (" (u.username) ") — " (t(Msg::ConfirmDeactivate)) }
            form #confirm-deactivate-form method="post" action={ "/admin/users/" (id) "/deactivate" } {
                (csrf_input(&a))
                input type="hidden" name="confirm" value="1";
                button #confirm-deactivate-button.fr-btn type="submit" { (t(Msg::ConfirmDeactivateButton)) }
                " " a href="/admin/users" { (t(Msg::Cancel)) }
            }
        };
        return Ok(page(lang, t(Msg::Deactivate), Some(&a), body).into_response());
    }
    st.store
        .update_user(id, u.role, false, Some(a.user.id))
        .await?;
    Ok(Redirect::to("/admin/users?ok=user-deactivated").into_response())
}

/// `POST /admin/users/{id}/reactivate`: a deactivated account signs in again
/// (with its password, or through single sign-on), audited.
pub async fn user_reactivate(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    a.require_role(Role::Admin)?;
    let u = st.store.get_user(id).await?.ok_or(WebError::NotFound)?;
    st.store
        .update_user(id, u.role, true, Some(a.user.id))
        .await?;
    Ok(Redirect::to("/admin/users?ok=user-reactivated").into_response())
}

pub async fn mailboxes(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Admin)?;
    let t = |m: Msg| m.text(lang);
    let list = st.store.list_mailboxes().await?;
    let body = html! {
        (table_frame(html! {
        table #mailbox-list {
            thead { tr { th scope="col" { (t(Msg::Name)) } th scope="col" { (t(Msg::Address)) } th scope="col" { "" } } }
            tbody { @for m in &list { tr { td { a href={ "/mailboxes/" (m.id) "/queue" } { (m.name) } } td { (m.address) } td { a.edit-mailbox href={ "/admin/mailboxes/" (m.id) } { (t(Msg::Edit)) } } } } }
        }
        }))
        h2 { (t(Msg::NewMailbox)) }
        form #mailbox-form method="post" action="/admin/mailboxes" {
            (csrf_input(&a))
            p { label for="mb-name" { (t(Msg::Name)) } input #mb-name name="name" required; }
            p { label for="mb-address" { (t(Msg::Address)) } input #mb-address type="email" name="address" required; }
            p { label for="mb-signature" { (t(Msg::Signature)) } textarea #mb-signature name="signature" rows="4" {} }
            button.fr-btn type="submit" { (t(Msg::Create)) }
        }
    };
    Ok(page(lang, t(Msg::Mailboxes), Some(&a), body).into_response())
}

#[derive(Deserialize)]
pub struct MailboxForm {
    pub name: String,
    pub address: String,
    #[serde(default)]
    pub signature: String,
}

pub async fn mailbox_create(
    State(st): State<AppState>,
    a: Authed,
    Form(f): Form<MailboxForm>,
) -> WebResult<Response> {
    a.require_role(Role::Admin)?;
    if f.name.trim().is_empty() || !f.address.contains('@') {
        return Err(WebError::bad(Msg::NameAndAddressRequired));
    }
    // One address per mailbox, so that replies never leave two mailboxes under the
    // same sender. Checked here for a prompt answer; the store's unique index
    // (compared by the same key) holds it when two creations race past this check,
    // and its refusal is told with the same message (WebError::from).
    let key = facteur_store::mailbox_address_key(&f.address);
    if st
        .store
        .list_mailboxes()
        .await?
        .iter()
        .any(|m| facteur_store::mailbox_address_key(&m.address) == key)
    {
        return Err(WebError::conflict(Msg::MailboxTaken));
    }
    st.store
        .create_mailbox(
            &NewMailbox {
                name: f.name.trim().to_string(),
                address: f.address.trim().to_string(),
                signature: f.signature.replace("\r\n", "\n"),
                settings: serde_json::json!({}),
            },
            Some(a.user.id),
        )
        .await
        .map_err(|e| WebError::store_conflict_as(e, Msg::MailboxNameTaken))?;
    Ok(Redirect::to("/admin/mailboxes?ok=mailbox-created").into_response())
}

/// `GET /admin/mailboxes/{id}`: the mailbox's signature, send delay and IMAP
/// folder, editable by an administrator.
pub async fn mailbox_edit(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    a.require_role(Role::Admin)?;
    let t = |m: Msg| m.text(lang);
    let m = st.store.get_mailbox(id).await?.ok_or(WebError::NotFound)?;
    let body = html! {
        p { strong { (m.name) } " — " (m.address) }
        form #mailbox-edit method="post" action={ "/admin/mailboxes/" (id) } {
            (csrf_input(&a))
            p { label for="mb-signature" { (t(Msg::Signature)) } textarea #mb-signature name="signature" rows="4" { (m.signature) } }
            p {
                label for="mb-delay" { (t(Msg::MailboxSendDelay)) }
                input #mb-delay name="send_delay_seconds" inputmode="numeric" value=(m.send_delay_seconds().map(|s| s.to_string()).unwrap_or_default());
            }
            p {
                label for="mb-folder" { (t(Msg::MailboxImapFolder)) }
                input #mb-folder name="imap_folder" value=(m.imap_folder().unwrap_or_default());
            }
            button.fr-btn type="submit" { (t(Msg::Save)) }
            " " a href="/admin/mailboxes" { (t(Msg::Cancel)) }
        }
    };
    Ok(page(lang, t(Msg::EditMailbox), Some(&a), body).into_response())
}

#[derive(Deserialize)]
pub struct MailboxEditForm {
    #[serde(default)]
    pub signature: String,
    #[serde(default)]
    pub send_delay_seconds: String,
    #[serde(default)]
    pub imap_folder: String,
}

/// `POST /admin/mailboxes/{id}`: saved and audited (`mailbox.update`).
pub async fn mailbox_update(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Form(f): Form<MailboxEditForm>,
) -> WebResult<Response> {
    a.require_role(Role::Admin)?;
    st.store.get_mailbox(id).await?.ok_or(WebError::NotFound)?;
    let delay = f.send_delay_seconds.trim();
    let send_delay_seconds = if delay.is_empty() {
        None
    } else {
        match delay.parse::<u32>() {
            Ok(s) if s <= 3600 => Some(s),
            _ => return Err(WebError::bad_value(Msg::InvalidSendDelay, delay)),
        }
    };
    let folder = f.imap_folder.trim();
    st.store
        .update_mailbox(
            id,
            &facteur_store::MailboxUpdate {
                signature: f.signature.replace("\r\n", "\n"),
                send_delay_seconds,
                imap_folder: (!folder.is_empty()).then(|| folder.to_string()),
            },
            Some(a.user.id),
        )
        .await?;
    Ok(Redirect::to("/admin/mailboxes?ok=mailbox-saved").into_response())
}
