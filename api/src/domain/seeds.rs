//! The seed nodes this deployment knows: `PNODE_SEEDS`, validated at start-up.

use std::{fmt, str::FromStr};

use serde::Serialize;

use super::{
    endpoint::{BasicAuth, split_credentials},
    network::{self, Network},
};
use utoipa::ToSchema;

/// A seed node whose gossip the collector reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Seed {
    /// The network the seed answers for.
    #[schema(value_type = String, example = "mainnet")]
    pub network: Network,
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
    /// Whether its entry named its network (else it has `PNODE_DEFAULT_NETWORK`'s).
    #[serde(skip)]
    pub(crate) explicit_network: bool,
    /// Whether it comes from a built-in list.
    #[serde(skip)]
    pub(crate) built_in: bool,
}

/// The configured seeds, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeds(Vec<Seed>);

impl Seeds {
    pub fn as_slice(&self) -> &[Seed] {
        &self.0
    }

    /// The same seeds, those whose entry named no network on `default`.
    pub fn with_default_network(mut self, default: &Network) -> Self {
        for seed in &mut self.0 {
            if !seed.explicit_network {
                seed.network = default.clone();
            }
        }
        self
    }

    /// The networks of the seeds, in the order they first appear.
    pub fn networks(&self) -> Vec<Network> {
        let mut networks: Vec<Network> = Vec::new();
        for seed in &self.0 {
            if !networks.contains(&seed.network) {
                networks.push(seed.network.clone());
            }
        }
        networks
    }

    /// The seeds of `network`, in order.
    pub fn of(&self, network: &Network) -> Vec<Seed> {
        self.0
            .iter()
            .filter(|seed| &seed.network == network)
            .cloned()
            .collect()
    }

    /// The credits source of each network that a built-in word (`mainnet`, `devnet`) expanded.
    pub fn built_in_credits(&self) -> Vec<(Network, &'static str)> {
        BUILT_IN
            .iter()
            .filter(|known| {
                self.0
                    .iter()
                    .any(|seed| seed.built_in && seed.network.as_str() == known.network)
            })
            .filter_map(|known| Some((known.network.parse().ok()?, known.credits_url)))
            .collect()
    }

    /// The seeds to list: the configured ones in order, then each seed of `seen` (the networks
    /// and base URLs the data names) not configured, named as an unnamed configured seed would
    /// be, by position.
    pub fn listed_with(&self, seen: impl IntoIterator<Item = (String, String)>) -> Vec<Seed> {
        let mut listed = self.0.clone();
        for (network, base_url) in seen {
            if !listed.iter().any(|seed| seed.base_url == base_url) {
                let mut seed = Seed::unnamed(listed.len(), base_url);
                if let Ok(network) = network.parse() {
                    seed.network = network;
                }
                listed.push(seed);
            }
        }
        listed
    }
}

impl Seed {
    /// The seed at `index` (from 0) of a list, named by its position and address.
    fn unnamed(index: usize, base_url: String) -> Self {
        Self {
            network: Network::default_network(),
            id: base_url.clone(),
            name: format!("Seed {} ({})", index + 1, host_port(&base_url)),
            base_url,
            auth: None,
            explicit_network: false,
            built_in: false,
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

    /// Reads comma-separated entries, each `[NETWORK:][NAME=]URL` (URL is `http(s)://host:port`)
    /// or a built-in network's name alone (`mainnet`, `devnet`: its public seeds).
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut seeds = Self::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Some(known) = BUILT_IN.iter().find(|known| known.network == entry) {
                for (name, url) in known.seeds {
                    let network = Some(known.network.parse().map_err(|_| {
                        InvalidSeeds(format!("built-in network {entry} is misnamed"))
                    })?);
                    seeds.push(network, Some(name), url, true)?;
                }
                continue;
            }
            let (network, rest) = network::split_prefix(entry);
            let (name, raw_url) = match rest.split_once('=') {
                Some((name, url)) if !name.contains("://") => (Some(name.trim()), url.trim()),
                _ => (None, rest),
            };
            if name == Some("") {
                let shown = split_credentials(entry).0;
                return Err(InvalidSeeds(format!("seed {shown:?} has an empty name")));
            }
            seeds.push(network, name, raw_url, false)?;
        }
        Ok(seeds)
    }
}

impl Seeds {
    /// Adds the seed at `raw_url`, refusing a URL listed before.
    fn push(
        &mut self,
        network: Option<Network>,
        name: Option<&str>,
        raw_url: &str,
        built_in: bool,
    ) -> Result<(), InvalidSeeds> {
        let (base_url, auth) = base_url(raw_url)?;
        if self.0.iter().any(|seed| seed.base_url == base_url) {
            return Err(InvalidSeeds(format!("seed {base_url} is listed twice")));
        }
        let unnamed = Seed::unnamed(self.0.len(), base_url);
        self.0.push(Seed {
            name: name.map_or(unnamed.name.clone(), str::to_owned),
            explicit_network: network.is_some(),
            network: network.unwrap_or_else(Network::default_network),
            auth,
            built_in,
            ..unnamed
        });
        Ok(())
    }
}

/// The networks whose public seeds and credits source the words `mainnet` and `devnet` name.
///
/// Which public seed answers for which network is not announced by the protocol; this is what
/// public sources said when it was written (2026-12-03; README "Networks" names them). Seeds come
/// and go: list them by URL in `PNODE_SEEDS` (`devnet:http://host:6000`) when these go stale.
const BUILT_IN: [BuiltIn; 2] = [
    BuiltIn {
        network: "mainnet",
        seeds: &[
            ("mainnet 161.97.97.41", "http://161.97.97.41:6000"),
            ("mainnet 173.212.203.145", "http://173.212.203.145:6000"),
            ("mainnet 173.212.220.65", "http://173.212.220.65:6000"),
        ],
        credits_url: "https://podcredits.xandeum.network/api/mainnet-pod-credits",
    },
    BuiltIn {
        network: "devnet",
        seeds: &[
            ("devnet 192.190.136.28", "http://192.190.136.28:6000"),
            ("devnet 192.190.136.29", "http://192.190.136.29:6000"),
            ("devnet 192.190.136.36", "http://192.190.136.36:6000"),
            ("devnet 192.190.136.38", "http://192.190.136.38:6000"),
            ("devnet 207.244.255.1", "http://207.244.255.1:6000"),
            ("devnet 89.123.115.81", "http://89.123.115.81:6000"),
        ],
        credits_url: "https://podcredits.xandeum.network/api/pods-credits",
    },
];

/// A network whose public seeds and credits source are built in.
#[derive(Debug)]
struct BuiltIn {
    network: &'static str,
    /// Each seed's name and URL.
    seeds: &'static [(&'static str, &'static str)],
    credits_url: &'static str,
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

    /// Each seed as (network, id, name, base URL).
    fn shown(seeds: &[Seed]) -> Vec<(String, String, String, String)> {
        seeds
            .iter()
            .map(|seed| {
                (
                    seed.network.to_string(),
                    seed.id.clone(),
                    seed.name.clone(),
                    seed.base_url.clone(),
                )
            })
            .collect()
    }

    fn row(network: &str, name: &str, url: &str) -> (String, String, String, String) {
        (network.into(), url.into(), name.into(), url.into())
    }

    #[test]
    fn seeds_are_read_with_and_without_names() {
        let seeds: Seeds = "http://192.190.136.36:6000, main=http://127.0.0.1:6001/"
            .parse()
            .expect("valid");
        assert_eq!(
            shown(seeds.as_slice()),
            [
                row(
                    "mainnet",
                    "Seed 1 (192.190.136.36:6000)",
                    "http://192.190.136.36:6000"
                ),
                row("mainnet", "main", "http://127.0.0.1:6001"),
            ]
        );
    }

    #[test]
    fn an_entry_may_name_its_network_and_the_rest_take_the_default() {
        let seeds: Seeds =
            "devnet:http://127.0.0.1:6001, test-2:b=https://127.0.0.1:6002, c=http://127.0.0.1:6003"
                .parse()
                .expect("valid");
        let devnet: Network = "devnet".parse().expect("a name");
        let seeds = seeds.with_default_network(&devnet);
        assert_eq!(
            shown(seeds.as_slice()),
            [
                row("devnet", "Seed 1 (127.0.0.1:6001)", "http://127.0.0.1:6001"),
                row("test-2", "b", "https://127.0.0.1:6002"),
                row("devnet", "c", "http://127.0.0.1:6003"),
            ]
        );
        assert_eq!(
            seeds
                .networks()
                .iter()
                .map(Network::as_str)
                .collect::<Vec<_>>(),
            ["devnet", "test-2"]
        );
        assert_eq!(seeds.of(&devnet).len(), 2);
        assert!(seeds.built_in_credits().is_empty());
    }

    #[test]
    fn a_built_in_network_s_name_alone_expands_to_its_public_seeds_and_credits() {
        for known in BUILT_IN {
            let seeds: Seeds = known.network.parse().expect("built in");
            assert_eq!(
                seeds.as_slice().len(),
                known.seeds.len(),
                "{}",
                known.network
            );
            assert!(
                seeds
                    .as_slice()
                    .iter()
                    .all(|seed| seed.network.as_str() == known.network && seed.explicit_network)
            );
            let credits = seeds.built_in_credits();
            assert_eq!(credits.len(), 1);
            assert_eq!(credits[0].1, known.credits_url);
        }
        let both: Seeds = "mainnet,devnet".parse().expect("both");
        assert_eq!(both.networks().len(), 2);
        assert_eq!(both.built_in_credits().len(), 2);
    }

    #[test]
    fn seeds_the_data_names_are_listed_after_the_configured_ones() {
        let seeds: Seeds = "main=http://127.0.0.1:6001".parse().expect("valid");
        let listed = seeds.listed_with(
            [
                ("mainnet", "http://127.0.0.1:6001"),
                ("devnet", "http://10.0.0.2:6000"),
            ]
            .map(|(n, u)| (n.to_owned(), u.to_owned())),
        );
        assert_eq!(
            shown(&listed),
            [
                row("mainnet", "main", "http://127.0.0.1:6001"),
                row("devnet", "Seed 2 (10.0.0.2:6000)", "http://10.0.0.2:6000"),
            ]
        );
        assert!(Seeds::default().listed_with([]).is_empty());
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
            (
                "devnet:http://127.0.0.1:6000,http://127.0.0.1:6000/",
                "listed twice",
            ),
            ("=http://127.0.0.1:6000", "empty name"),
            ("devnet:=http://127.0.0.1:6000", "empty name"),
            ("Dev:http://127.0.0.1:6000", "not a base URL"),
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
