//! Networks: Xandeum runs a mainnet and a devnet, and a deployment may follow both (or a test
//! network of its own). A network is a name the operator gives its seeds (`PNODE_SEEDS`); a node
//! is a (network, pubkey) pair.

use std::{fmt, str::FromStr};

use super::params::{self, InvalidParameter};

/// The network of an entry that names none, unless `PNODE_DEFAULT_NETWORK` says otherwise.
pub(crate) const DEFAULT: &str = "mainnet";

/// The longest network name.
pub(crate) const MAX_NAME_BYTES: usize = 32;

/// A network's name: `[a-z][a-z0-9-]{0,31}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Network(String);

impl Network {
    /// The default network's name.
    pub const DEFAULT_NAME: &str = DEFAULT;

    /// The default network, `mainnet`.
    pub fn default_network() -> Self {
        Self(DEFAULT.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `name` is a network's name.
    pub fn is_valid(name: &str) -> bool {
        let mut chars = name.chars();
        name.len() <= MAX_NAME_BYTES
            && chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a network's name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidNetwork;

impl fmt::Display for InvalidNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a network's name is a lowercase letter, then at most {} lowercase letters, digits or dashes",
            MAX_NAME_BYTES - 1
        )
    }
}

impl std::error::Error for InvalidNetwork {}

impl FromStr for Network {
    type Err = InvalidNetwork;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if Self::is_valid(name) {
            Ok(Self(name.to_owned()))
        } else {
            Err(InvalidNetwork)
        }
    }
}

/// `entry` split into the network it names (`NETWORK:rest`) and the rest; `None` when it names
/// none. `http:` and `https:` (and any `scheme://`) are the start of a URL, never a network.
pub(crate) fn split_prefix(entry: &str) -> (Option<Network>, &str) {
    match entry.split_once(':') {
        Some((prefix, rest)) if !matches!(prefix, "http" | "https") && !rest.starts_with("//") => {
            match prefix.parse() {
                Ok(network) => (Some(network), rest.trim_start()),
                Err(_) => (None, entry),
            }
        }
        _ => (None, entry),
    }
}

/// The networks a `network=` parameter names: `None` for every network (absent or blank), else
/// the names of its comma list, each one of `known` (sorted, each once). A name not in `known`
/// is a bad parameter naming them.
pub(crate) fn selection(
    raw: Option<&str>,
    known: &[Network],
) -> Result<Option<Vec<Network>>, InvalidParameter> {
    let Some(raw) = raw.filter(|raw| !raw.trim().is_empty()) else {
        return Ok(None);
    };
    let mut names: Vec<Network> = Vec::new();
    for name in raw.split(',').map(str::trim) {
        let Some(network) = known.iter().find(|network| network.as_str() == name) else {
            let known: Vec<&str> = known.iter().map(Network::as_str).collect();
            return Err(InvalidParameter::new(
                "network",
                format!(
                    "must be a comma list of the networks this service knows ({}), not {}",
                    known.join(", "),
                    params::excerpt(name)
                ),
            ));
        };
        if !names.contains(network) {
            names.push(network.clone());
        }
    }
    names.sort();
    Ok(Some(names))
}

/// Whether `network` is among `selected` (`None`: every network).
pub(crate) fn selected(selected: Option<&[Network]>, network: &str) -> bool {
    selected.is_none_or(|names| names.iter().any(|name| name.as_str() == network))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_names_known_networks_only() {
        let known: Vec<Network> = ["mainnet", "devnet"]
            .iter()
            .map(|n| n.parse().expect("a name"))
            .collect();
        let names = |raw| {
            selection(Some(raw), &known)
                .expect("valid")
                .map(|names| names.iter().map(ToString::to_string).collect::<Vec<_>>())
        };
        assert_eq!(names(" "), None);
        assert_eq!(selection(None, &known), Ok(None));
        assert_eq!(names("mainnet"), Some(vec!["mainnet".to_owned()]));
        assert_eq!(
            names("mainnet, devnet,mainnet"),
            Some(vec!["devnet".to_owned(), "mainnet".to_owned()])
        );
        for bad in ["testnet", "mainnet,", "MAINNET", &"x".repeat(100)] {
            let err = selection(Some(bad), &known).expect_err(bad);
            assert_eq!(err.parameter, "network");
            assert!(err.problem.contains("mainnet, devnet"), "{err}");
            assert!(err.problem.len() < 200, "{err}");
        }
        assert!(selected(None, "devnet"));
        assert!(!selected(Some(&known[..1]), "devnet"));
    }

    #[test]
    fn names_are_short_lowercase_words() {
        for good in ["mainnet", "devnet", "a", "test-2", &"a".repeat(32)] {
            assert!(Network::is_valid(good), "{good}");
        }
        for bad in [
            "",
            "Mainnet",
            "2net",
            "-net",
            "dev_net",
            "dév",
            &"a".repeat(33),
        ] {
            assert!(!Network::is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn a_prefix_names_a_network_and_a_url_scheme_does_not() {
        let named = |entry| {
            let (network, rest) = split_prefix(entry);
            (network.map(|n| n.to_string()), rest)
        };
        assert_eq!(
            named("devnet:http://127.0.0.1:6000"),
            (Some("devnet".into()), "http://127.0.0.1:6000")
        );
        assert_eq!(
            named("devnet:a=https://127.0.0.1:6000"),
            (Some("devnet".into()), "a=https://127.0.0.1:6000")
        );
        assert_eq!(
            named("http://127.0.0.1:6000"),
            (None, "http://127.0.0.1:6000")
        );
        assert_eq!(
            named("https://127.0.0.1:6000"),
            (None, "https://127.0.0.1:6000")
        );
        assert_eq!(
            named("main=http://127.0.0.1:6000"),
            (None, "main=http://127.0.0.1:6000")
        );
        assert_eq!(named("Dev:http://x:1"), (None, "Dev:http://x:1"));
    }
}
