//! Every outbound HTTP call the service makes (pRPC to seeds and nodes, the credits source,
//! webhooks) goes through a client built here: it calls where it is told and only there (no
//! proxy from the environment, which would see every call; no redirects, which could send the
//! service anywhere), and speaks TLS with rustls, trusting the web's roots (webpki-roots, built
//! in) and the operator's own CA certificates (`PNODE_TLS_CA_FILE`), never the system's store.

use std::{path::Path, sync::Arc};

use rustls::{ClientConfig, RootCertStore, crypto::ring};
use rustls_pki_types::{CertificateDer, pem::PemObject};

use super::settings::OutboundSettings;
use crate::domain::{endpoint::BasicAuth, secret::ExposeSecret};

/// How the service calls out; cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbound {
    tls: Arc<ClientConfig>,
}

impl Outbound {
    /// Trusting the web's roots and, when `PNODE_TLS_CA_FILE` is set, every certificate in it.
    pub fn from_settings(settings: &OutboundSettings) -> anyhow::Result<Self> {
        let mut roots = web_roots();
        if let Some(file) = &settings.tls_ca_file {
            let added = add_pem_file(&mut roots, file)
                .map_err(|err| anyhow::anyhow!("PNODE_TLS_CA_FILE {}: {err}", file.display()))?;
            tracing::info!(file = %file.display(), certificates = added, "trusting extra CA certificates");
        }
        Self::trusting(roots)
    }

    /// Trusting the web's roots only.
    pub fn web_roots() -> anyhow::Result<Self> {
        Self::trusting(web_roots())
    }

    fn trusting(roots: RootCertStore) -> anyhow::Result<Self> {
        let tls = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|err| anyhow::anyhow!("cannot set up TLS: {err}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self { tls: Arc::new(tls) })
    }

    /// A client builder with the rules of the module documentation; add timeouts and build.
    pub fn client(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .tls_backend_preconfigured(ClientConfig::clone(&self.tls))
    }
}

/// `request` with `auth`'s credentials as HTTP Basic auth, when there are any.
pub(crate) fn authorized(
    request: reqwest::RequestBuilder,
    auth: Option<&BasicAuth>,
) -> reqwest::RequestBuilder {
    match auth {
        Some(auth) => request.basic_auth(
            &auth.user,
            auth.password
                .as_ref()
                .map(|password| password.expose_secret()),
        ),
        None => request,
    }
}

/// Why a capped read gave no body.
#[derive(Debug)]
pub(crate) enum CappedRead {
    /// Past the cap (by its `Content-Length`, or while it streamed in).
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads `response`'s body chunk by chunk, giving up as soon as it passes `cap` bytes: an
/// answer from the network cannot make the service allocate more.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, CappedRead> {
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(CappedRead::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(CappedRead::Transport)? {
        if body.len() + chunk.len() > cap {
            return Err(CappedRead::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An error and its causes on one line: reqwest's own message rarely says what failed
/// ("connection refused" is two causes down).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn web_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// Adds every certificate of the PEM file at `path`; at least one must be there.
fn add_pem_file(roots: &mut RootCertStore, path: &Path) -> Result<usize, String> {
    let certificates = CertificateDer::pem_file_iter(path).map_err(|err| err.to_string())?;
    let mut added = 0;
    for certificate in certificates {
        let certificate = certificate.map_err(|err| err.to_string())?;
        roots.add(certificate).map_err(|err| err.to_string())?;
        added += 1;
    }
    if added == 0 {
        return Err("no PEM certificate in it".to_owned());
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_refused_with_its_name() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("empty.pem");
        std::fs::write(&file, "not a certificate\n").expect("write");
        let err = Outbound::from_settings(&OutboundSettings {
            tls_ca_file: Some(file.clone()),
        })
        .expect_err("no certificate");
        assert!(err.to_string().contains("empty.pem"), "{err}");
        let missing = Outbound::from_settings(&OutboundSettings {
            tls_ca_file: Some(dir.path().join("missing.pem")),
        })
        .expect_err("no file");
        assert!(missing.to_string().contains("missing.pem"), "{missing}");
    }

    #[test]
    fn the_web_roots_are_built_in() {
        assert!(web_roots().len() > 100);
        let outbound = Outbound::web_roots().expect("TLS");
        assert!(outbound.client().build().is_ok());
    }
}
