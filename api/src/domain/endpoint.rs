//! A URL the operator configured (a seed, the credits source, a webhook) with its user info
//! taken out: the URL without it is what identifies the endpoint everywhere (answers, the
//! database, metrics, logs, events, CSV); the user info is sent as HTTP Basic auth and nowhere
//! else.

use std::fmt;

use crate::domain::secret::{ExposeSecret, SecretString};

/// HTTP Basic credentials from a URL's user info (percent-decoded).
#[derive(Clone)]
pub struct BasicAuth {
    pub user: String,
    pub password: Option<SecretString>,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl PartialEq for BasicAuth {
    fn eq(&self, other: &Self) -> bool {
        let password = |auth: &Self| auth.password.as_ref().map(|p| p.expose_secret().to_owned());
        self.user == other.user && password(self) == password(other)
    }
}

impl Eq for BasicAuth {}

/// `url` split into the URL without its user info and the credentials that were in it; `None`
/// for the credentials when it had none (the URL is then returned as given).
pub(crate) fn split_credentials(url: &str) -> (String, Option<BasicAuth>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return (url.to_owned(), None);
    };
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    let (user, password) = match user_info.split_once(':') {
        Some((user, password)) => (decode(user), Some(SecretString::from(decode(password)))),
        None => (decode(user_info), None),
    };
    (
        format!("{scheme}://{host}{tail}"),
        Some(BasicAuth { user, password }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_becomes_credentials_and_leaves_the_url() {
        let (url, auth) = split_credentials("http://bob:pa%3Ass@192.0.2.1:6000");
        assert_eq!(url, "http://192.0.2.1:6000");
        let auth = auth.expect("credentials");
        assert_eq!(auth.user, "bob");
        assert_eq!(
            auth.password.as_ref().map(|p| p.expose_secret()),
            Some("pa:ss")
        );
        assert!(!format!("{auth:?}").contains("pa:ss"));
        let (url, auth) = split_credentials("https://token@hooks.example.org/x?y=@z");
        assert_eq!(url, "https://hooks.example.org/x?y=@z");
        assert_eq!(
            auth.map(|a| (a.user, a.password.is_none())),
            Some(("token".into(), true))
        );
        for plain in [
            "http://192.0.2.1:6000",
            "https://hooks.example.org/a@b",
            "no-scheme",
        ] {
            assert_eq!(split_credentials(plain), (plain.to_owned(), None));
        }
    }
}
