//! What a caller of `/api/pnodes` may ask for: filters, order and page, validated. Unknown
//! parameters are ignored (dashboards add cache-busters); a known one with a bad value is a 400
//! that names it and what it accepts.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::{
    network::{self, Network},
    params::{self, InvalidParameter, non_empty},
};

/// Most nodes one page may hold.
pub(crate) const MAX_LIMIT: u64 = 1000;
/// Longest accepted `q`, in characters.
const MAX_QUERY_LEN: usize = 200;
/// Longest accepted `seed` and `version`, in bytes: longer ones match nothing anyway, and every
/// value here ends up in a cache key.
const MAX_SEED_BYTES: usize = 512;
const MAX_VERSION_BYTES: usize = 128;

/// The query string as it arrives: every value still text, so that a bad one is reported with
/// its parameter's name.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RawPnodeQuery {
    /// Only nodes of these networks: one name or a comma list (default: every network). A name
    /// this service does not know is a 400.
    #[param(
        example = "mainnet",
        max_length = 200,
        pattern = r"^[a-z][a-z0-9-]{0,31}( *, *[a-z][a-z0-9-]{0,31})*$"
    )]
    pub network: Option<String>,
    /// Only nodes this seed (its base URL) has reported.
    #[param(
        example = "http://192.190.136.36:6000",
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub seed: Option<String>,
    /// Only nodes whose last get-stats call succeeded (`true`) or failed (`false`).
    #[param(value_type = Option<bool>)]
    pub reachable: Option<String>,
    /// Only nodes whose newest gossip observation says public (`true`) or not (`false`).
    #[param(value_type = Option<bool>)]
    pub public: Option<String>,
    /// Only nodes whose newest observed version is exactly this.
    #[param(example = "0.7.3", pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub version: Option<String>,
    /// Only nodes whose pubkey or latest address contains this text (case-insensitive), at
    /// most 200 characters.
    #[param(max_length = 200, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub q: Option<String>,
    /// Order by: `id` (default), `pubkey`, `version` (numeric), `uptime`, `activeStreams`,
    /// `lastSeen`, `credits` or `score`. Nulls come last either way; ties go by id.
    #[param(value_type = Option<SortKey>)]
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    #[param(value_type = Option<Order>)]
    pub order: Option<String>,
    /// Page size, 1 to 1000. With it the body has `pagination`; without it the whole network
    /// is returned, streamed.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// Nodes to skip, 0 or more (default 0).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    pub offset: Option<String>,
}

/// Whose view of the network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every node, with its newest observation from any seed.
    #[default]
    Network,
    /// The nodes one seed reported in its newest answer, as it reported them.
    Seed {
        base_url: String,
        answered_at: DateTime<Utc>,
    },
}

/// A validated request for the global view (or, in a seed's scope, a seed's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PnodeQuery {
    pub scope: Scope,
    pub filter: Filter,
    pub sort: SortKey,
    pub order: Order,
    /// `Some` when the caller asked for a page.
    pub limit: Option<u64>,
    pub offset: u64,
}

/// Which nodes to include.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// `None`: every network.
    pub networks: Option<Vec<Network>>,
    pub seed: Option<String>,
    pub reachable: Option<bool>,
    pub public: Option<bool>,
    pub version: Option<String>,
    /// Lower-cased search text.
    pub text: Option<String>,
}

/// What to order by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
pub enum SortKey {
    #[default]
    Id,
    Pubkey,
    Version,
    Uptime,
    ActiveStreams,
    LastSeen,
    Credits,
    Score,
}

/// Which way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

const SORT_KEYS: [(&str, SortKey); 8] = [
    ("id", SortKey::Id),
    ("pubkey", SortKey::Pubkey),
    ("version", SortKey::Version),
    ("uptime", SortKey::Uptime),
    ("activeStreams", SortKey::ActiveStreams),
    ("lastSeen", SortKey::LastSeen),
    ("credits", SortKey::Credits),
    ("score", SortKey::Score),
];

const ORDERS: [(&str, Order); 2] = [("asc", Order::Asc), ("desc", Order::Desc)];

/// The nodes a query selects and their order, whatever the page: what one ordering of a data
/// version is computed (and cached) for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Ordering {
    pub scope: Scope,
    pub filter: Filter,
    pub sort: SortKey,
    pub order: Order,
}

impl Ordering {
    /// The query selecting all of this ordering (no page).
    pub fn into_query(self) -> PnodeQuery {
        PnodeQuery {
            scope: self.scope,
            filter: self.filter,
            sort: self.sort,
            order: self.order,
            limit: None,
            offset: 0,
        }
    }

    /// Every node, by id: the order the view is built in.
    pub fn is_by_id(&self) -> bool {
        self.scope == Scope::Network && self.filter == Filter::default() && self.sort == SortKey::Id
    }
}

impl PnodeQuery {
    /// What this query selects and in which order, without its page.
    pub fn ordering(&self) -> Ordering {
        Ordering {
            scope: self.scope.clone(),
            filter: self.filter.clone(),
            sort: self.sort,
            order: self.order,
        }
    }

    /// The query in one canonical text (every parameter, defaults written out): two requests
    /// that ask for the same thing have the same text, whatever order or spelling they used.
    pub fn canonical(&self) -> String {
        let f = &self.filter;
        let scope = match &self.scope {
            Scope::Network => String::new(),
            Scope::Seed {
                base_url,
                answered_at,
            } => format!("answer={base_url:?}@{}&", answered_at.timestamp_micros()),
        };
        let networks = f.networks.as_ref().map(|names| {
            names
                .iter()
                .map(Network::as_str)
                .collect::<Vec<_>>()
                .join(",")
        });
        format!(
            "{scope}network={networks:?}&seed={:?}&reachable={:?}&public={:?}&version={:?}&q={:?}&sort={}&order={}&limit={:?}&offset={}",
            f.seed,
            f.reachable,
            f.public,
            f.version,
            f.text,
            name_of(&SORT_KEYS, self.sort),
            name_of(&ORDERS, self.order),
            self.limit,
            self.offset
        )
    }
}

/// The name of `value` among `choices`.
fn name_of<T: PartialEq>(choices: &[(&'static str, T)], value: T) -> &'static str {
    choices
        .iter()
        .find(|(_, choice)| *choice == value)
        .map_or("", |(name, _)| name)
}

impl PnodeQuery {
    /// The query `raw` asks for, its networks among `known`.
    pub fn parse(raw: RawPnodeQuery, known: &[Network]) -> Result<Self, InvalidParameter> {
        let networks = network::selection(raw.network.as_deref(), known)?;
        let text = non_empty(raw.q)
            .map(|q| params::text("q", q))
            .transpose()?
            .map(|q| {
                if q.chars().count() > MAX_QUERY_LEN {
                    Err(InvalidParameter::new(
                        "q",
                        format!("must be at most {MAX_QUERY_LEN} characters"),
                    ))
                } else {
                    Ok(q.to_lowercase())
                }
            })
            .transpose()?;
        Ok(Self {
            scope: Scope::Network,
            filter: Filter {
                networks,
                seed: non_empty(raw.seed)
                    .map(|seed| params::text("seed", seed))
                    .transpose()?
                    .map(|seed| params::bounded("seed", seed, MAX_SEED_BYTES))
                    .transpose()?
                    .map(|seed| seed.trim_end_matches('/').to_owned()),
                reachable: raw
                    .reachable
                    .map(|v| params::boolean("reachable", &v))
                    .transpose()?,
                public: raw
                    .public
                    .map(|v| params::boolean("public", &v))
                    .transpose()?,
                version: non_empty(raw.version)
                    .map(|version| params::text("version", version))
                    .transpose()?
                    .map(|version| params::bounded("version", version, MAX_VERSION_BYTES))
                    .transpose()?,
                text,
            },
            sort: raw
                .sort
                .map(|v| params::one_of("sort", &v, &SORT_KEYS))
                .transpose()?
                .unwrap_or_default(),
            order: raw
                .order
                .map(|v| params::one_of("order", &v, &ORDERS))
                .transpose()?
                .unwrap_or_default(),
            limit: raw
                .limit
                .map(|v| params::integer("limit", &v, 1, MAX_LIMIT))
                .transpose()?,
            offset: raw
                .offset
                .map(|v| params::integer("offset", &v, 0, i64::MAX as u64))
                .transpose()?
                .unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<PnodeQuery, InvalidParameter> {
        let query: String = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let raw =
            actix_web::web::Query::<RawPnodeQuery>::from_query(&query).expect("a query string");
        let known = ["mainnet", "devnet"].map(|n| n.parse().expect("a name"));
        PnodeQuery::parse(raw.into_inner(), &known)
    }

    #[test]
    fn no_parameters_mean_the_whole_network_by_id() {
        assert_eq!(parse(&[]).expect("valid"), PnodeQuery::default());
    }

    #[test]
    fn every_parameter_is_read() {
        let query = parse(&[
            ("network", "mainnet,devnet"),
            ("seed", "http://127.0.0.1:6000/"),
            ("reachable", "true"),
            ("public", "false"),
            ("version", "0.7.3"),
            ("q", "AbC"),
            ("sort", "activeStreams"),
            ("order", "desc"),
            ("limit", "1000"),
            ("offset", "20"),
            ("_", "1764953798"),
        ])
        .expect("valid");
        assert_eq!(
            query,
            PnodeQuery {
                scope: Scope::Network,
                filter: Filter {
                    networks: Some(vec![
                        "devnet".parse().expect("a name"),
                        "mainnet".parse().expect("a name")
                    ]),
                    seed: Some("http://127.0.0.1:6000".into()),
                    reachable: Some(true),
                    public: Some(false),
                    version: Some("0.7.3".into()),
                    text: Some("abc".into()),
                },
                sort: SortKey::ActiveStreams,
                order: Order::Desc,
                limit: Some(1000),
                offset: 20,
            }
        );
    }

    #[test]
    fn bad_values_are_refused_naming_the_parameter_and_what_it_accepts() {
        let cases = [
            ("reachable", "yes", "must be true or false"),
            ("public", "1", "must be true or false"),
            (
                "sort",
                "speed",
                "must be one of id, pubkey, version, uptime, activeStreams, lastSeen, credits, score",
            ),
            ("order", "up", "must be one of asc, desc"),
            ("limit", "0", "from 1 to 1000"),
            ("limit", "1001", "from 1 to 1000"),
            ("limit", "ten", "from 1 to 1000"),
            ("offset", "-1", "from 0 to"),
            ("network", "testnet", "mainnet, devnet"),
        ];
        for (parameter, value, expected) in cases {
            let err = parse(&[(parameter, value)]).expect_err(parameter);
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("parameter `{parameter}`"))
                    && message.contains(expected),
                "{parameter}={value}: {message}"
            );
            assert_eq!(err.parameter, parameter);
        }
    }

    #[test]
    fn the_same_question_has_the_same_canonical_text() {
        let a = parse(&[("limit", "10"), ("sort", "uptime"), ("_", "1")]).expect("valid");
        let b = parse(&[
            ("sort", "uptime"),
            ("order", "asc"),
            ("limit", "10"),
            ("offset", "0"),
        ])
        .expect("valid");
        assert_eq!(a.canonical(), b.canonical());
        let c = parse(&[("sort", "uptime"), ("limit", "10"), ("offset", "10")]).expect("valid");
        assert_ne!(a.canonical(), c.canonical());
        assert_eq!(a.ordering(), c.ordering());
    }

    #[test]
    fn control_characters_in_text_are_refused_naming_the_parameter() {
        for parameter in ["seed", "version", "q"] {
            let err = parse(&[(parameter, "a%00b")]).expect_err(parameter);
            assert_eq!(err.parameter, parameter);
            assert!(err.to_string().contains("control characters"), "{err}");
        }
    }

    #[test]
    fn long_seeds_and_versions_are_refused() {
        let long = "x".repeat(513);
        let err = parse(&[("seed", &long)]).expect_err("too long");
        assert_eq!(err.parameter, "seed");
        let err = parse(&[("version", &long[..129])]).expect_err("too long");
        assert_eq!(err.parameter, "version");
    }

    #[test]
    fn empty_text_filters_are_no_filters() {
        let query = parse(&[("q", ""), ("seed", ""), ("version", " ")]).expect("valid");
        assert_eq!(query.filter, Filter::default());
    }
}
