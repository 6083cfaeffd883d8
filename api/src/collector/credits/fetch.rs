//! One GET of the credits source, bounded in time and in size.

use reqwest::header::{ACCEPT, HeaderValue};

use super::{Credit, CreditsError, CreditsPolicy, parse};

/// Fetches and validates: all or nothing (any transport or shape problem is an error;
/// individual bad entries are skipped and counted in the second value).
///
/// `client` is the caller's: it decides proxies and redirects. The policy's timeout covers
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

/// Reads the body chunk by chunk and gives up as soon as it passes `cap` bytes.
async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, CreditsError> {
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(CreditsError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| CreditsError::transport(&err))?
    {
        if body.len() + chunk.len() > cap {
            return Err(CreditsError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
