//! Where a soak may send requests: the server named by `--url`, and no other. Every request URL
//! is built here, from the base URL and a path, and checked to stay on the base URL's origin.

use std::{fmt, str::FromStr};

use reqwest::Url;

/// The server a soak drives: an `http://` URL with a host, optionally a path prefix, and nothing
/// else (no credentials, query or fragment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(Url);

impl FromStr for BaseUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let url = Url::parse(text).map_err(|err| format!("not a URL ({err}): {text}"))?;
        match url.scheme() {
            "http" => {}
            // The HTTP client is built without TLS: every https request would fail, so say so now.
            "https" => {
                return Err(format!(
                    "https is not supported (no TLS in this build): {text}"
                ));
            }
            _ => return Err(format!("not an http:// URL: {text}")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("no host in {text}"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("credentials in the URL are not allowed: {text}"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("a base URL has no query or fragment: {text}"));
        }
        Ok(Self(url))
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

impl BaseUrl {
    /// The URL of `path` (which may carry a query) on this server.
    pub fn endpoint(&self, path: &str) -> Result<Url, String> {
        let path = request_path(path)?;
        let url = Url::parse(&format!("{self}{path}"))
            .map_err(|err| format!("{self}{path} is not a URL: {err}"))?;
        // The path is appended to text, so check that it did not move the request elsewhere.
        if url.origin() != self.0.origin() {
            return Err(format!("{path} leads away from {self}"));
        }
        Ok(url)
    }
}

/// Accepts a request path only if it starts with `/` (the `--path` flag's parser).
pub fn request_path(path: &str) -> Result<String, String> {
    if path.starts_with('/') {
        Ok(path.to_owned())
    } else {
        Err(format!("must start with /, like /api/pnodes: {path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_host_are_accepted() {
        for (text, why) in [
            ("ftp://x", "not an http:// URL"),
            ("file:///etc/passwd", "not an http:// URL"),
            ("https://example.org", "https is not supported"),
            ("127.0.0.1:8080", "not"),
            ("nope", "not a URL"),
            ("http://", "not a URL"),
            ("http://user:pw@127.0.0.1:8080", "credentials"),
            ("http://127.0.0.1:8080/?a=1", "no query"),
        ] {
            let err = text.parse::<BaseUrl>().expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
        assert!("http://127.0.0.1:8080".parse::<BaseUrl>().is_ok());
    }

    #[test]
    fn endpoints_are_the_path_on_the_base_url() {
        for (base, path, expected) in [
            (
                "http://127.0.0.1:8080",
                "/api/pnodes",
                "http://127.0.0.1:8080/api/pnodes",
            ),
            ("http://h:1/", "/a?limit=100", "http://h:1/a?limit=100"),
            ("http://h/prefix/", "/a", "http://h/prefix/a"),
            (
                "http://h:1",
                "//elsewhere.org/x",
                "http://h:1//elsewhere.org/x",
            ),
        ] {
            let base: BaseUrl = base.parse().expect(base);
            assert_eq!(base.endpoint(path).expect(path).as_str(), expected);
        }
    }

    #[test]
    fn a_path_must_start_with_a_slash() {
        let base: BaseUrl = "http://127.0.0.1:8080".parse().expect("valid");
        for path in ["nope", "", "@evil.org/", ".evil.org/x"] {
            let err = base.endpoint(path).expect_err(path);
            assert!(err.contains("must start with /"), "{path}: {err}");
        }
    }
}
