//! HTTPS for every outbound call: a seed, the credits source and a webhook receiver behind a
//! loopback TLS server whose certificate a CA made here signs (trusted through
//! `PNODE_TLS_CA_FILE`), and one signed by another CA refused with a clear error.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use pnode_api::{app::config::Settings, net::http::Outbound};
use pnode_tools::sim::{SimConfig, SimNetwork};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::{
    ServerConfig,
    pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_rustls::TlsAcceptor;

use crate::{
    collecting::fast_settings,
    helpers::{Backend, TestApp, spawn_app_with, wait_until},
};

on_both_backends!(
    an_https_seed_and_credits_source_are_collected,
    a_seed_whose_certificate_no_trusted_ca_signed_is_refused_with_a_clear_error,
);

/// A certificate authority that exists for one test.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// Where its certificate is written, for `PNODE_TLS_CA_FILE`.
    dir: tempfile::TempDir,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        Self {
            issuer,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The CA's certificate as a PEM file.
    pub fn pem_file(&self) -> PathBuf {
        let file = self.dir.path().join("ca.pem");
        std::fs::write(&file, self.issuer.pem()).expect("write the CA");
        file
    }

    /// What a client configured with this CA trusts.
    pub fn outbound(&self) -> Outbound {
        Outbound::from_settings(&pnode_api::net::settings::OutboundSettings {
            tls_ca_file: Some(self.pem_file()),
        })
        .expect("the CA file is read")
    }

    /// A server certificate for `localhost` and 127.0.0.1, signed by this CA.
    pub fn server_config(&self) -> ServerConfig {
        let params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("leaf params");
        let key = KeyPair::generate().expect("leaf key");
        let leaf = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .expect("server certificate")
    }
}

/// A TLS server on loopback in front of a plain one: it ends TLS with `config` and passes the
/// bytes on to `backend` (a seed, the credits source, a webhook receiver).
pub struct TlsFront {
    pub port: u16,
    task: JoinHandle<()>,
}

impl TlsFront {
    pub async fn start(backend: SocketAddr, config: ServerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: nothing to pass on.
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Self { port, task }
    }

    /// `https://localhost:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `host:port` of an `http://host:port...` URL.
pub fn backend_of(url: &str) -> SocketAddr {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let authority = rest.split('/').next().expect("an authority");
    authority.parse().expect("an IP and port")
}

/// The app collecting `seed` (and `credits`, when given), trusting `ca`'s certificate.
async fn app_over_tls(
    backend: &Backend,
    ca: &TestCa,
    seed: String,
    credits: Option<String>,
) -> TestApp {
    let ca_file = ca.pem_file();
    spawn_app_with(backend, move |settings: &mut Settings| {
        settings.seeds = seed.parse().expect("an https seed");
        settings.collector = fast_settings();
        settings.outbound.tls_ca_file = Some(ca_file);
        if let Some(credits) = credits {
            // The README's example, on loopback: `PNODE_CREDITS_URL=https://…/api/pods-credits`.
            settings.collector.credits_url = credits.into();
            settings.collector.credits_interval = Duration::from_millis(300);
        }
    })
    .await
}

async fn an_https_seed_and_credits_source_are_collected(backend: Backend) {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let ca = TestCa::new("pnode-api test CA");
    let seed = TlsFront::start(backend_of(&sim.seed_urls()[0]), ca.server_config()).await;
    let credits = TlsFront::start(backend_of(&sim.credits_url()), ca.server_config()).await;
    let app = app_over_tls(
        &backend,
        &ca,
        seed.url(""),
        Some(credits.url("/api/pods-credits")),
    )
    .await;
    app.wait_for_a_cycle().await;

    let seeds = app.get_json("/api/seeds").await;
    let listed = &seeds["seeds"][0];
    assert_eq!(listed["baseUrl"], seed.url("").as_str(), "{seeds}");
    assert!(listed["lastCycle"]["error"].is_null(), "{seeds}");
    let view = app.get_json("/api/pnodes").await;
    let mut pubkeys: Vec<&str> = view["globalPnodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|node| node["pubkey"].as_str())
        .collect();
    pubkeys.sort_unstable();
    let mut expected = sim.seen_by(0);
    expected.sort_unstable();
    assert_eq!(pubkeys, expected);

    wait_until("credits over https reach the view", || async {
        let view = app.get_json("/api/pnodes").await;
        view["globalPnodes"]
            .as_array()
            .is_some_and(|nodes| nodes.iter().all(|node| node["latestCredits"].is_i64()))
    })
    .await;
    sim.stop().await;
}

async fn a_seed_whose_certificate_no_trusted_ca_signed_is_refused_with_a_clear_error(
    backend: Backend,
) {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let trusted = TestCa::new("pnode-api test CA");
    let stranger = TestCa::new("someone else's CA");
    let seed = TlsFront::start(backend_of(&sim.seed_urls()[0]), stranger.server_config()).await;
    let app = app_over_tls(&backend, &trusted, seed.url(""), None).await;
    app.wait_for_a_cycle().await;

    let seeds = app.get_json("/api/seeds").await;
    let error = seeds["seeds"][0]["lastCycle"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("certificate") && error.contains("UnknownIssuer"),
        "the error says the certificate was refused: {seeds}"
    );
    let view = app.get_json("/api/pnodes").await;
    assert_eq!(view["globalPnodes"].as_array().map(Vec::len), Some(0));
    sim.stop().await;
}
