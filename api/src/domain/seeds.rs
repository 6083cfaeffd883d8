//! The seed nodes this deployment knows: `PNODE_SEEDS`, validated at start-up.

use std::{fmt, str::FromStr};

use serde::Serialize;

use super::endpoint::{BasicAuth, split_credentials};
use utoipa::ToSchema;

/// A seed node whose gossip the collector reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Seed {
    /// The seed's base URL, used as its id.
    #[schema(example = "http://192.190.136.36:6000")]
    pub id: String,
    /// A display name.
    #[schema(example = "Seed 1 (192.190.136.36:6000)")]
    pub name: String,
    /// Without user info: that is only ever sent as HTTP Basic auth.
    #[schema(example = "http://192.190.136.36:6000")]
    pub base_url: String,
    /// The credentials of the configured URL's user info, if it had any.
    #[serde(skip)]
    pub auth: Option<BasicAuth>,
}

/// The configured seeds, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeds(Vec<Seed>);

impl Seeds {
    pub fn as_slice(&self) -> &[Seed] {
        &self.0
    }

    /// The seeds to list: the configured ones in order, then each seed of `seen` (base URLs the
    /// data names) not configured, named as an unnamed configured seed would be, by position.
    pub fn listed_with(&self, seen: impl IntoIterator<Item = String>) -> Vec<Seed> {
        let mut listed = self.0.clone();
        for base_url in seen {
            if !listed.iter().any(|seed| seed.base_url == base_url) {
                listed.push(Seed::unnamed(listed.len(), base_url));
            }
        }
        listed
    }
}

impl Seed {
    /// The seed at `index` (from 0) of a list, named by its position and address.
    fn unnamed(index: usize, base_url: String) -> Self {
        Self {
            id: base_url.clone(),
            name: format!("Seed {} ({})", index + 1, host_port(&base_url)),
            base_url,
            auth: None,
        }
    }
}

/// Why `PNODE_SEEDS` was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidSeeds(String);

impl fmt::Display for InvalidSeeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidSeeds {}

impl FromStr for Seeds {
    type Err = InvalidSeeds;

    /// Reads comma-separated entries, each `URL` or `NAME=URL`, where URL is `http(s)://host:port`.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut seeds: Vec<Seed> = Vec::new();
        for (index, entry) in list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let (name, raw_url) = match entry.split_once('=') {
                Some((name, url)) if !name.contains("://") => (Some(name.trim()), url.trim()),
                _ => (None, entry),
            };
            let (base_url, auth) = base_url(raw_url)?;
            if seeds.iter().any(|seed| seed.base_url == base_url) {
                return Err(InvalidSeeds(format!("seed {base_url} is listed twice")));
            }
            let seed = match name {
                Some("") => {
                    let shown = split_credentials(entry).0;
                    return Err(InvalidSeeds(format!("seed {shown:?} has an empty name")));
                }
                Some(name) => Seed {
                    id: base_url.clone(),
                    name: name.to_owned(),
                    base_url,
                    auth,
                },
                None => Seed {
                    auth,
                    ..Seed::unnamed(index, base_url)
                },
            };
            seeds.push(seed);
        }
        Ok(Self(seeds))
    }
}

/// Checks that `raw` is an http(s) base URL with a host and nothing after it, and returns it
/// without a trailing slash or user info, and the credentials that user info held.
fn base_url(raw: &str) -> Result<(String, Option<BasicAuth>), InvalidSeeds> {
    let refuse = |why: &str| {
        InvalidSeeds(format!(
            "seed {:?} is not a base URL like http://host:6000: {why}",
            // Quoted without its user info: the message is shown.
            split_credentials(raw).0
        ))
    };
    let url = url::Url::parse(raw).map_err(|err| refuse(&err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(refuse("it has no host"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("it must not have a path, query or fragment"));
    }
    Ok(split_credentials(raw.trim_end_matches('/')))
}

fn host_port(base_url: &str) -> &str {
    base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_read_with_and_without_names() {
        let seeds: Seeds = "http://192.190.136.36:6000, main=http://127.0.0.1:6001/"
            .parse()
            .expect("valid");
        assert_eq!(
            seeds.as_slice(),
            [
                Seed {
                    id: "http://192.190.136.36:6000".into(),
                    name: "Seed 1 (192.190.136.36:6000)".into(),
                    base_url: "http://192.190.136.36:6000".into(),
                    auth: None,
                },
                Seed {
                    id: "http://127.0.0.1:6001".into(),
                    name: "main".into(),
                    base_url: "http://127.0.0.1:6001".into(),
                    auth: None,
                },
            ]
        );
    }

    #[test]
    fn seeds_the_data_names_are_listed_after_the_configured_ones() {
        let seeds: Seeds = "main=http://127.0.0.1:6001".parse().expect("valid");
        let listed =
            seeds.listed_with(["http://127.0.0.1:6001", "http://10.0.0.2:6000"].map(String::from));
        assert_eq!(
            listed,
            [
                Seed {
                    id: "http://127.0.0.1:6001".into(),
                    name: "main".into(),
                    base_url: "http://127.0.0.1:6001".into(),
                    auth: None,
                },
                Seed {
                    id: "http://10.0.0.2:6000".into(),
                    name: "Seed 2 (10.0.0.2:6000)".into(),
                    base_url: "http://10.0.0.2:6000".into(),
                    auth: None,
                },
            ]
        );
        assert_eq!(Seeds::default().listed_with([]), []);
    }

    #[test]
    fn a_seed_url_s_user_info_is_kept_apart_from_its_identity() {
        let seeds: Seeds = "main=http://bob:hunter2@127.0.0.1:6001, http://amy:pw@10.0.0.2:6000"
            .parse()
            .expect("valid");
        let [main, second] = seeds.as_slice() else {
            panic!("two seeds: {seeds:?}");
        };
        assert_eq!(
            (main.id.as_str(), main.base_url.as_str()),
            ("http://127.0.0.1:6001", "http://127.0.0.1:6001")
        );
        assert_eq!(second.name, "Seed 2 (10.0.0.2:6000)");
        assert_eq!(
            main.auth.as_ref().map(|auth| auth.user.as_str()),
            Some("bob")
        );
        let shown = format!(
            "{seeds:?} {}",
            serde_json::to_string(&seeds.as_slice()).expect("json")
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains(":pw"),
            "{shown}"
        );
    }

    #[test]
    fn nothing_configured_means_no_seeds() {
        assert_eq!("".parse::<Seeds>(), Ok(Seeds::default()));
    }

    #[test]
    fn bad_seeds_are_refused_with_a_reason() {
        for (list, reason) in [
            ("192.190.136.36:6000", "not a base URL"),
            ("ftp://127.0.0.1:6000", "scheme must be http"),
            ("http://127.0.0.1:6000/rpc", "must not have a path"),
            (
                "http://127.0.0.1:6000,http://127.0.0.1:6000/",
                "listed twice",
            ),
            ("=http://127.0.0.1:6000", "empty name"),
            (
                "http://bob:hunter2@127.0.0.1:6000/x",
                "must not have a path",
            ),
        ] {
            let err = list.parse::<Seeds>().expect_err(list);
            assert!(err.to_string().contains(reason), "{list}: {err}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }
}
