//! Reading a credits answer: `{"pods_credits":[{"pod_id":"<pubkey>","credits":264}],"status":"success"}`.
//!
//! The envelope is strict (anything else is an error and nothing is stored); entries are lenient
//! (a bad one is skipped and counted, the rest are kept).

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Map, Value, error::Category};

use super::{Credit, CreditsError};

/// The largest float that converts to an integer exactly: beyond it, "integral" means nothing.
const MAX_EXACT_FLOAT: f64 = 9_007_199_254_740_992.0;

/// The answer, read without building a tree of the whole body: only one entry at a time is a
/// `serde_json::Value`.
#[derive(Deserialize)]
struct Answer {
    status: Option<Value>,
    pods_credits: Option<Vec<Entry>>,
}

/// An entry is used only if it is an object; anything else is kept aside to be counted.
#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Object(Map<String, Value>),
    Other(serde::de::IgnoredAny),
}

/// Parses a whole answer: the usable credits (one per pod, in answer order) and how many entries
/// were skipped. A pod listed twice keeps its first entry; the later ones count as skipped.
pub fn parse(body: &[u8]) -> Result<(Vec<Credit>, usize), CreditsError> {
    let answer: Answer = serde_json::from_slice(body).map_err(|err| match err.classify() {
        // Valid JSON of the wrong type (an array, `pods_credits` a string, ...).
        Category::Data => CreditsError::Shape(err.to_string()),
        Category::Io | Category::Syntax | Category::Eof => CreditsError::NotJson(err.to_string()),
    })?;
    match &answer.status {
        Some(Value::String(status)) if status == "success" => {}
        Some(status) => {
            return Err(CreditsError::Shape(format!(
                "status is {status}, not \"success\""
            )));
        }
        None => return Err(CreditsError::Shape("no status".into())),
    }
    let entries = answer
        .pods_credits
        .ok_or_else(|| CreditsError::Shape("no pods_credits".into()))?;

    let mut seen = HashSet::with_capacity(entries.len());
    let mut credits = Vec::with_capacity(entries.len());
    let mut skipped = 0;
    for entry in entries {
        match read_entry(entry) {
            Some(credit) if seen.insert(credit.pubkey.clone()) => credits.push(credit),
            _ => skipped += 1,
        }
    }
    Ok((credits, skipped))
}

fn read_entry(entry: Entry) -> Option<Credit> {
    let Entry::Object(mut entry) = entry else {
        return None;
    };
    let Some(Value::String(pubkey)) = entry.remove("pod_id") else {
        return None;
    };
    let credits = entry.get("credits").and_then(whole_credits)?;
    crate::domain::pubkey::is_valid(&pubkey).then_some(Credit { pubkey, credits })
}

/// A non-negative integer, also when written as an integral float (`264.0`); strings, fractions
/// and negatives are not credits.
fn whole_credits(value: &Value) -> Option<i64> {
    let number = value.as_number()?;
    if let Some(credits) = number.as_i64() {
        return (credits >= 0).then_some(credits);
    }
    let float = number.as_f64()?;
    // Within (0, 2^53] and integral, the cast is exact.
    (float.fract() == 0.0 && (0.0..=MAX_EXACT_FLOAT).contains(&float)).then_some(float as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR";
    const B: &str = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin";

    fn credit(pubkey: &str, credits: i64) -> Credit {
        Credit {
            pubkey: pubkey.to_owned(),
            credits,
        }
    }

    fn parsed(body: &str) -> Result<(Vec<Credit>, usize), CreditsError> {
        parse(body.as_bytes())
    }

    #[test]
    fn a_well_formed_answer_gives_every_pod_in_order() {
        let body = format!(
            r#"{{"pods_credits":[{{"pod_id":"{A}","credits":264}},{{"pod_id":"{B}","credits":0,"extra":1}}],"status":"success"}}"#
        );
        let (credits, skipped) = parsed(&body).expect("parsed");
        assert_eq!(credits, [credit(A, 264), credit(B, 0)]);
        assert_eq!(skipped, 0);
    }

    #[test]
    fn bad_entries_are_skipped_and_counted() {
        let body = format!(
            r#"{{"status":"success","pods_credits":[
                {{"pod_id":"{A}","credits":1.5}},
                {{"pod_id":"{A}","credits":"264"}},
                {{"pod_id":"{A}","credits":-3}},
                {{"pod_id":"{A}","credits":null}},
                {{"pod_id":"{A}","credits":18446744073709551615}},
                {{"pod_id":"{A}"}},
                {{"pod_id":42,"credits":5}},
                {{"pod_id":"TestPubkey14","credits":5}},
                {{"credits":5}},
                "{A}",
                null,
                [1, 2],
                {{"pod_id":"{B}","credits":264.0}},
                {{"pod_id":"{B}","credits":7}}
            ]}}"#
        );
        let (credits, skipped) = parsed(&body).expect("parsed");
        assert_eq!(credits, [credit(B, 264)], "an integral float is accepted");
        assert_eq!(skipped, 13, "the second entry of B counts as skipped");
    }

    #[test]
    fn an_empty_list_is_an_answer() {
        let (credits, skipped) =
            parsed(r#"{"pods_credits":[],"status":"success"}"#).expect("parsed");
        assert!(credits.is_empty());
        assert_eq!(skipped, 0);
    }

    #[test]
    fn a_body_that_is_not_json_is_not_json() {
        for body in [
            "",
            "<html>oops</html>",
            r#"{"pods_credits":["#,
            "{} trailing",
        ] {
            let err = parsed(body).expect_err(body);
            assert_eq!(err.kind(), "not_json", "{body}: {err}");
        }
    }

    #[test]
    fn json_of_another_shape_is_a_shape_error() {
        for body in [
            "[]",
            "null",
            r#""success""#,
            r#"{"status":"success"}"#,
            r#"{"status":"success","pods_credits":null}"#,
            r#"{"status":"success","pods_credits":{"a":1}}"#,
            r#"{"status":"success","pods_credits":"none"}"#,
            r#"{"status":"error","pods_credits":[]}"#,
            r#"{"status":true,"pods_credits":[]}"#,
            r#"{"pods_credits":[]}"#,
        ] {
            let err = parsed(body).expect_err(body);
            assert_eq!(err.kind(), "shape", "{body}: {err}");
        }
    }
}
