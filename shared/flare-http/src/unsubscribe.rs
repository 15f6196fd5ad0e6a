//! `GET /unsubscribe/{token}`: the link in every mass mail. It is public, because the signed token is the
//! credential.
//!
//! A valid token names an address and the systems it was mailed about. Visiting removes that address's email
//! subscription from each of those systems and says so; visiting again says the same, since removing twice is
//! fine. A token without systems went to someone named on the incident (its engineer or a listed address), who
//! is on no list: nothing is removed, and the page says whom to ask. The token is never logged, and the page is
//! neither cached nor passed on as a referrer.
//!
//! The key comes from the session key ([`flare_core::SessionKey::unsubscribe_key`]), so whoever signs the links
//! and this page agree without a second secret. This module removes email subscriptions only; phone subscribers are not its concern.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use flare_core::Unsubscribe;
use flare_core::{EmailAddress, Subscriber, SystemId};
use tracing::info;

use crate::error::ApiError;
use crate::pages::{self, Nav, PageError};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    nav: Nav,
    /// Whether the token verified.
    valid: bool,
    email: String,
    /// The systems left, by catalog name, as one phrase ("VPN, Email and Payroll"); empty when none were named.
    systems: String,
}

/// "VPN", "VPN and Email", "VPN, Email and Payroll".
fn and_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Removes `email`'s subscription from each of `systems`; the systems' names, for the page.
async fn remove(state: &AppState, email: &EmailAddress, systems: &[SystemId]) -> Result<Vec<String>, ApiError> {
    let mut names = Vec::with_capacity(systems.len());
    let mut removed = 0_usize;
    for system in systems {
        let contact =
            Subscriber::new(system.clone(), Some(email.clone()), None, None).map_err(ApiError::internal)?.contact_key();
        if state.store().remove_subscriber(system, &contact).await? {
            removed += 1;
        }
        let name = state.store().get_system(system).await?.map(|s| s.name.to_string());
        names.push(name.unwrap_or_else(|| system.to_string()));
    }
    let ids: Vec<&str> = systems.iter().map(SystemId::as_str).collect();
    info!(systems = %ids.join(","), removed, "unsubscribe link followed");
    Ok(names)
}

/// `GET /unsubscribe/{token}`.
#[utoipa::path(
    get,
    path = "/unsubscribe/{token}",
    operation_id = "unsubscribe",
    tag = "pages",
    summary = "A mail's unsubscribe link",
    security(()),
    params(("token" = String, Path, description = "The signed token of the mail's link")),
    responses(
        (status = 200, description = "Unsubscribed (or already): the page says from what", content_type = "text/html", body = String),
        (status = 400, description = "The link is not valid: it was not signed by this Flare", content_type = "text/html", body = String),
        (status = 500, description = "Internal error: opaque, with a request id", content_type = "text/html", body = String)
    )
)]
pub(crate) async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, PageError> {
    let (status, page) = match state.unsubscribe_key().verify(&token) {
        Err(_) => {
            info!("unsubscribe link refused: not valid");
            let page =
                UnsubscribePage { nav: Nav::anonymous(), valid: false, email: String::new(), systems: String::new() };
            (StatusCode::BAD_REQUEST, page)
        }
        Ok(Unsubscribe { email, systems }) => {
            let names = if systems.is_empty() {
                info!("unsubscribe link of an address named on an incident followed: nothing to remove");
                Vec::new()
            } else {
                remove(&state, &email, &systems).await?
            };
            let page = UnsubscribePage {
                nav: Nav::anonymous(),
                valid: true,
                email: email.to_string(),
                systems: and_list(&names),
            };
            (StatusCode::OK, page)
        }
    };
    let mut response = pages::html(status, &page)?;
    // The token is in the URL: no link on the page may carry it elsewhere.
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_as_a_list() {
        let names = |n: &[&str]| n.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(and_list(&names(&["VPN"])), "VPN");
        assert_eq!(and_list(&names(&["VPN", "Email"])), "VPN and Email");
        assert_eq!(and_list(&names(&["VPN", "Email", "Payroll"])), "VPN, Email and Payroll");
    }
}
