//! Secrets in the settings (a database URL with its password, a webhook signing key): held as
//! [`SecretString`], whose `Debug` prints `[REDACTED]`, and exposed only where they are used.

use std::convert::Infallible;

pub(crate) use secrecy::{ExposeSecret, SecretString};

/// Reads a setting as a secret (clap's value parser).
pub(crate) fn parse(text: &str) -> Result<SecretString, Infallible> {
    Ok(SecretString::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_not_printed_by_debug() {
        let secret = parse("postgres://bob:hunter2@db/pnodes").unwrap_or_default();
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(secret.expose_secret(), "postgres://bob:hunter2@db/pnodes");
    }
}
