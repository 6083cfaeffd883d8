//! Reading answers: the published samples, and every leniency the real network needs.
//! The client against live (simulated) nodes is tested in the tools crate (`pnode_tools::sim`).

use serde_json::{Value, json};

use super::*;

fn result_of(answer: &str) -> Value {
    answer_result(answer.as_bytes()).expect("a JSON-RPC result")
}

#[test]
fn the_published_get_stats_answer_is_read_flat() {
    let result = result_of(
        r#"{"jsonrpc":"2.0","id":1,"error":null,"result":{
  "active_streams":2,"cpu_percent":6.63,"current_index":14,"file_size":558000000000,
  "last_updated":1764953798,"packets_received":7218,"packets_sent":5965,"ram_total":12567232512,
  "ram_used":5399207936,"total_bytes":94633,"total_pages":0,"uptime":154484}}"#,
    );
    assert_eq!(
        NodeStats::from_result(&result).expect("stats"),
        NodeStats {
            active_streams: Some(2),
            cpu_percent: Some(6.63),
            current_index: Some(14),
            file_size: Some(558_000_000_000),
            last_updated: Some(1_764_953_798),
            packets_received: Some(7218),
            packets_sent: Some(5965),
            ram_total: Some(12_567_232_512),
            ram_used: Some(5_399_207_936),
            total_bytes: Some(94633),
            total_pages: Some(0),
            uptime: Some(154_484),
        }
    );
}

#[test]
fn the_published_get_pods_answer_is_read_as_legacy() {
    let result = result_of(
        r#"{"jsonrpc":"2.0","id":1,"error":null,"result":{"pods":[
  {"address":"62.84.180.240:9001","last_seen":"2025-12-06 21:49:13 UTC","last_seen_timestamp":1765057753,
   "pubkey":"7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR","version":"0.5.1"}],"total_count":27}}"#,
    );
    let answer = PodsAnswer::from_result(&result, PodsMethod::Legacy).expect("pods");
    assert_eq!(
        answer,
        PodsAnswer {
            pods: vec![Pod {
                address: "62.84.180.240:9001".into(),
                pubkey: Some("7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR".into()),
                version: Some("0.5.1".into()),
                last_seen_timestamp: Some(1_765_057_753),
                is_public: None,
                rpc_port: None,
                storage_committed: None,
                storage_used: None,
                storage_usage_percent: None,
                uptime: None,
            }],
            total_count: Some(27),
            method: PodsMethod::Legacy,
            malformed: 0,
        }
    );
}

#[test]
fn the_published_get_pods_with_stats_answer_is_read_whole() {
    let result = result_of(
        r#"{"jsonrpc":"2.0","id":1,"error":null,"result":{"pods":[
  {"address":"192.190.136.37:9001","is_public":true,"last_seen_timestamp":1765209387,
   "pubkey":"Aj6AqP7xvmBNuPF5v4zNB3SYxBe3yP6rsqK6KsaKVXKM","rpc_port":6000,
   "storage_committed":183000000000,"storage_usage_percent":0.000051712021857923493,
   "storage_used":94633,"uptime":1461,"version":"0.7.0-trynet.20251208141952.3b3bb24"}],"total_count":5}}"#,
    );
    let answer = PodsAnswer::from_result(&result, PodsMethod::WithStats).expect("pods");
    assert_eq!(answer.total_count, Some(5));
    assert_eq!(answer.malformed, 0);
    assert_eq!(
        answer.pods,
        [Pod {
            address: "192.190.136.37:9001".into(),
            pubkey: Some("Aj6AqP7xvmBNuPF5v4zNB3SYxBe3yP6rsqK6KsaKVXKM".into()),
            version: Some("0.7.0-trynet.20251208141952.3b3bb24".into()),
            last_seen_timestamp: Some(1_765_209_387),
            is_public: Some(true),
            rpc_port: Some(6000),
            storage_committed: Some(183_000_000_000),
            storage_used: Some(94633),
            storage_usage_percent: Some(0.000_051_712_021_857_923_493),
            uptime: Some(1461),
        }]
    );
}

#[test]
fn the_published_get_version_answer_gives_the_string() {
    let result = result_of(r#"{"jsonrpc":"2.0","result":{"version":"0.6.0"},"error":null,"id":1}"#);
    assert_eq!(
        types::version_from_result(&result).expect("version"),
        "0.6.0"
    );
}

#[test]
fn null_and_missing_fields_are_none_and_unknown_versions_are_kept() {
    let result = json!({"pods": [
        {"address": "1.2.3.4:9001", "is_public": null, "last_seen_timestamp": 1765209387,
         "pubkey": null, "rpc_port": null, "storage_committed": null, "storage_usage_percent": null,
         "storage_used": null, "uptime": null, "version": "unknown"},
        {"address": "1.2.3.5:9001"},
    ]});
    let answer = PodsAnswer::from_result(&result, PodsMethod::WithStats).expect("pods");
    assert_eq!(answer.total_count, None);
    let [first, second] = &answer.pods[..] else {
        panic!("two pods: {answer:?}");
    };
    assert_eq!(first.version.as_deref(), Some("unknown"));
    assert_eq!(first.last_seen_timestamp, Some(1_765_209_387));
    assert_eq!(
        (first.pubkey.as_ref(), first.is_public, first.rpc_port),
        (None, None, None)
    );
    assert_eq!(
        (
            first.storage_used,
            first.storage_usage_percent,
            first.uptime
        ),
        (None, None, None)
    );
    assert_eq!(second.version, None);
    assert_eq!(second.last_seen_timestamp, None);
    assert_eq!(
        NodeStats::from_result(&json!({})).expect("stats"),
        NodeStats::default()
    );
}

#[test]
fn timestamps_in_milliseconds_become_seconds_and_non_positive_ones_none() {
    for (raw, expected) in [
        (json!(1_765_209_387_123_i64), Some(1_765_209_387)),
        (json!(1_765_209_387), Some(1_765_209_387)),
        (json!(1_765_209_387.9), Some(1_765_209_387)),
        (json!("1765209387"), Some(1_765_209_387)),
        (json!(0), None),
        (json!(-5), None),
        (json!("yesterday"), None),
    ] {
        let result = json!({"pods": [{"address": "1.2.3.4:9001", "last_seen_timestamp": raw}]});
        let answer = PodsAnswer::from_result(&result, PodsMethod::WithStats).expect("pods");
        assert_eq!(answer.pods[0].last_seen_timestamp, expected, "{raw}");
    }
}

#[test]
fn numbers_are_read_from_floats_and_numeric_strings_and_keep_64_bits() {
    let result = json!({
        "packets_received": "123", "packets_sent": 5965.0, "total_bytes": u64::MAX,
        "ram_total": " 12567232512 ", "cpu_percent": "6.63", "uptime": "1.5e3",
        "active_streams": -2, "file_size": "lots", "current_index": true,
    });
    let stats = NodeStats::from_result(&result).expect("stats");
    assert_eq!(stats.packets_received, Some(123));
    assert_eq!(stats.packets_sent, Some(5965));
    assert_eq!(stats.total_bytes, Some(u64::MAX));
    assert_eq!(stats.ram_total, Some(12_567_232_512));
    assert_eq!(stats.cpu_percent, Some(6.63));
    assert_eq!(stats.uptime, Some(1500));
    assert_eq!(
        (stats.active_streams, stats.file_size, stats.current_index),
        (None, None, None)
    );

    let pods = json!({"pods": [{"address": "1.2.3.4:9001", "rpc_port": "6000",
        "is_public": "true", "storage_committed": 1.83e11, "total_count": "3"}], "total_count": "3"});
    let answer = PodsAnswer::from_result(&pods, PodsMethod::WithStats).expect("pods");
    assert_eq!(answer.total_count, Some(3));
    let pod = &answer.pods[0];
    assert_eq!(pod.rpc_port, Some(6000));
    assert_eq!(pod.is_public, Some(true));
    assert_eq!(pod.storage_committed, Some(183_000_000_000));
}

#[test]
fn an_out_of_range_rpc_port_is_dropped() {
    let result = json!({"pods": [{"address": "1.2.3.4:9001", "rpc_port": 70000}]});
    let answer = PodsAnswer::from_result(&result, PodsMethod::WithStats).expect("pods");
    assert_eq!(answer.pods[0].rpc_port, None);
}

#[test]
fn entries_without_a_usable_address_are_skipped_and_counted() {
    let result = json!({"pods": [
        {"address": "1.2.3.4:9001", "pubkey": "TestPubkey14"},
        "1.2.3.5:9001",
        null,
        {"pubkey": "7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR"},
        {"address": ""},
        {"address": 42},
    ], "total_count": 6});
    let answer = PodsAnswer::from_result(&result, PodsMethod::WithStats).expect("pods");
    assert_eq!(answer.malformed, 5);
    assert_eq!(answer.pods.len(), 1);
    assert_eq!(
        answer.pods[0].pubkey.as_deref(),
        Some("TestPubkey14"),
        "kept as given"
    );
}

#[test]
fn a_result_of_the_wrong_shape_is_a_shape_error() {
    for result in [
        json!([]),
        json!("pods"),
        json!({"nodes": []}),
        json!({"pods": {}}),
    ] {
        let err = PodsAnswer::from_result(&result, PodsMethod::WithStats).expect_err("shape");
        assert_eq!(err.kind(), "shape", "{result}");
    }
    let err = NodeStats::from_result(&json!([1, 2])).expect_err("shape");
    assert_eq!(err.kind(), "shape");
    let err = types::version_from_result(&json!({"version": null})).expect_err("shape");
    assert_eq!(err.kind(), "shape");
}

#[test]
fn the_envelope_gives_rpc_errors_and_refuses_what_is_not_json_rpc() {
    let err = answer_result(
        br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"},"result":null}"#,
    )
    .expect_err("error");
    assert!(
        matches!(&err, PrpcError::Rpc { code: METHOD_NOT_FOUND, message } if message == "Method not found"),
        "{err:?}"
    );
    assert_eq!(
        answer_result(b"<html>oops").expect_err("html").kind(),
        "not_json"
    );
    assert_eq!(answer_result(b"[1]").expect_err("array").kind(), "shape");
    assert_eq!(
        answer_result(br#"{"jsonrpc":"2.0","id":1,"error":null}"#)
            .expect_err("no result")
            .kind(),
        "shape"
    );
}

#[test]
fn every_error_has_a_stable_kind() {
    let kinds: Vec<&str> = [
        PrpcError::Timeout,
        PrpcError::Connect("refused".into()),
        PrpcError::HttpStatus(503),
        PrpcError::TooLarge(10),
        PrpcError::NotJson("eof".into()),
        PrpcError::Rpc {
            code: -32603,
            message: "Internal error".into(),
        },
        PrpcError::Shape("no pods".into()),
    ]
    .iter()
    .map(PrpcError::kind)
    .collect();
    assert_eq!(
        kinds,
        [
            "timeout",
            "connect",
            "http_status",
            "too_large",
            "not_json",
            "rpc",
            "shape"
        ]
    );
}

/// A node that streams an endless chunked answer (no Content-Length to refuse up front): the
/// client must stop reading at the cap, long before its timeout.
#[tokio::test]
async fn an_endless_answer_is_cut_at_the_cap() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let loopback: crate::net::targets::AllowedTargets = "127.0.0.0/8".parse().expect("a CIDR");
    let target = loopback
        .check(&addr.to_string(), Some(addr.port()))
        .expect("a loopback target");
    let node = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
            .await;
        let chunk = format!("400\r\n{}\r\n", " ".repeat(0x400));
        while stream.write_all(chunk.as_bytes()).await.is_ok() {}
    });

    let started = std::time::Instant::now();
    let err = PrpcClient::new(
        &crate::net::http::Outbound::web_roots().expect("TLS"),
        Duration::from_secs(5),
    )
    .with_max_answer_bytes(64 * 1024)
    .stats(&target)
    .await
    .expect_err("too large");
    assert!(matches!(err, PrpcError::TooLarge(65_536)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stopped at the cap, not the timeout"
    );
    node.abort();
}

mod arbitrary {
    //! Whatever a seed or node sends: never a panic, and what is kept is bounded by what came.

    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::super::*;

    /// Any JSON value, nested a few levels, with the keys a pods answer has among others.
    fn json() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("pods".to_owned()),
            Just("address".to_owned()),
            Just("pubkey".to_owned()),
            Just("version".to_owned()),
            Just("last_seen_timestamp".to_owned()),
            Just("rpc_port".to_owned()),
            Just("is_public".to_owned()),
            Just("uptime".to_owned()),
            Just("storage_committed".to_owned()),
            ".{0,8}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..8)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_answer_is_read_or_refused_without_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = answer_result(&bytes);
        }

        #[test]
        fn any_result_is_a_pods_answer_or_an_error(result in json()) {
            for method in [PodsMethod::WithStats, PodsMethod::Legacy] {
                if let Ok(answer) = PodsAnswer::from_result(&result, method) {
                    let size = result.to_string().len();
                    let kept: usize = answer
                        .pods
                        .iter()
                        .map(|pod| pod.address.len() + pod.pubkey.as_ref().map_or(0, String::len))
                        .sum();
                    prop_assert!(kept <= size, "{kept} bytes kept from {size}");
                }
            }
            let _ = NodeStats::from_result(&result);
            let _ = PrpcError::from_rpc_error(&result);
        }

        #[test]
        fn an_rpc_error_message_is_kept_to_a_kilobyte(message in ".{0,3000}") {
            let error = serde_json::json!({"code": -32603, "message": message});
            let PrpcError::Rpc { message, .. } = PrpcError::from_rpc_error(&error) else {
                panic!("an RPC error");
            };
            prop_assert!(message.len() <= crate::domain::text::MAX_ERROR_BYTES);
        }
    }
}
