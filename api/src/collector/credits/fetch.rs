//! One GET of the credits source, bounded in time and in size.

use reqwest::header::{ACCEPT, HeaderValue};

use super::{Credit, CreditsError, CreditsPolicy, parse};
use crate::net::http::CappedRead;

/// Fetches and validates: all or nothing (any transport or shape problem is an error;
/// individual bad entries are skipped and counted in the second value).
///
/// `client` is the caller's (`crate::net::http`: no proxy, no redirects). The policy's timeout covers
/// connecting and reading the whole answer, and the size cap is enforced while the body streams
/// in, so a misbehaving source can neither hang a refresh nor make it allocate without limit.
#[tracing::instrument(name = "fetch credits", level = "debug", skip(client, policy))]
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    policy: &CreditsPolicy,
) -> Result<(Vec<Credit>, usize), CreditsError> {
    let download = download(client, url, policy);
    let result = match tokio::time::timeout(policy.timeout, download).await {
        Ok(body) => body.and_then(|body| parse(&body)),
        Err(_) => Err(CreditsError::Timeout),
    };
    if let Err(err) = &result {
        tracing::debug!(kind = err.kind(), error = %err, "credits fetch failed");
    }
    result
}

async fn download(
    client: &reqwest::Client,
    url: &str,
    policy: &CreditsPolicy,
) -> Result<Vec<u8>, CreditsError> {
    let request = client
        .get(url)
        .header(ACCEPT, HeaderValue::from_static("application/json"));
    let mut response = crate::net::http::authorized(request, policy.auth.as_ref())
        .send()
        .await
        .map_err(|err| CreditsError::transport(&err))?;
    let status = response.status();
    if !status.is_success() {
        return Err(CreditsError::HttpStatus(status.as_u16()));
    }
    read_capped(&mut response, policy.max_answer_bytes).await
}

/// The body, at most `cap` bytes of it.
async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, CreditsError> {
    crate::net::http::read_capped(response, cap)
        .await
        .map_err(|err| match err {
            CappedRead::TooLarge => CreditsError::TooLarge,
            CappedRead::Transport(err) => CreditsError::transport(&err),
        })
}
