//! How the service calls out (part of `crate::app::config::Settings`).

use std::path::PathBuf;

use clap::Args;

/// Outbound calls: pRPC, the credits source, webhooks.
#[derive(Debug, Clone, Args)]
pub struct OutboundSettings {
    /// A PEM file of CA certificates to trust for outbound HTTPS besides the web's roots (built
    /// in), e.g. a private CA that signs a seed's or a webhook receiver's certificate.
    #[arg(long = "tls-ca-file", env = "PNODE_TLS_CA_FILE", global = true)]
    pub tls_ca_file: Option<PathBuf>,
}
