//! CSV: `/api/pnodes` and a node's history as tables, for spreadsheets and scripts. Asked for with
//! `?format=csv` or an `Accept` header that prefers `text/csv`. RFC 4180: a header row, comma
//! separated, CRLF line ends, a field quoted when it holds a comma, a quote or a line end. Each
//! column is one field of the JSON answer, written as the JSON writes it: numbers in the same
//! text, `true`/`false`, times in RFC 3339 UTC, an empty field for `null`, and a list of texts
//! (`seedBaseUrlsSeen`) joined by single spaces. Text is written as the network reported it.

use std::borrow::Cow;

use actix_web::{
    HttpRequest,
    http::header::{self, Accept, Header},
    web::Bytes,
};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt, stream};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::{
    domain::params::{self, InvalidParameter},
    view::{ViewError, cost::RequestCost, query::Scope, stream as view_stream},
};

/// The header giving the number of rows a CSV answer holds (its header row aside): a body with
/// fewer was cut short (a database failure part-way ends the stream at a row boundary).
pub(crate) const ROW_COUNT: &str = "x-row-count";

/// The media type of a CSV answer.
pub(crate) const CONTENT_TYPE: &str = "text/csv; charset=utf-8; header=present";

/// How an answer is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum Format {
    #[default]
    Json,
    Csv,
}

const FORMATS: [(&str, Format); 2] = [("json", Format::Json), ("csv", Format::Csv)];

/// `?format=`, read beside an endpoint's own parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RawFormat {
    /// `json` or `csv` (the columns are listed in the README). Without it, `Accept` decides:
    /// `text/csv` preferred over `application/json` gives CSV.
    #[param(value_type = Option<Format>)]
    pub format: Option<String>,
}

impl RawFormat {
    /// The format asked for: `format` if given, else what `Accept` prefers.
    pub(crate) fn negotiate(&self, req: &HttpRequest) -> Result<Format, InvalidParameter> {
        if let Some(format) = &self.format {
            return params::one_of("format", format, &FORMATS);
        }
        Ok(accepted(req))
    }
}

/// CSV when `Accept` ranks `text/csv` above every media type that JSON answers (an unreadable
/// header, or none, is JSON).
fn accepted(req: &HttpRequest) -> Format {
    let Ok(accept) = Accept::parse(req) else {
        return Format::Json;
    };
    // `q=0` means "not this one".
    let refused: Vec<_> = accept
        .iter()
        .filter(|item| item.quality == actix_web::http::header::Quality::ZERO)
        .map(|item| item.item.clone())
        .collect();
    for mime in accept.ranked() {
        if refused.contains(&mime) {
            continue;
        }
        match (mime.type_(), mime.subtype()) {
            (t, s) if t == "text" && s == "csv" => return Format::Csv,
            (t, s) if t == "application" && s == "json" => return Format::Json,
            (t, _) if t == "*" => return Format::Json,
            (t, s) if t == "application" && s == "*" => return Format::Json,
            _ => {}
        }
    }
    Format::Json
}

/// One column: its header, and where its value is in the JSON of a row (a JSON pointer).
pub(crate) type Column = (&'static str, &'static str);

/// The columns of `/api/pnodes` as CSV, in order.
pub(crate) const PNODE_COLUMNS: [Column; 36] = [
    ("id", "/id"),
    ("pubkey", "/pubkey"),
    ("reachable", "/reachable"),
    ("failureCount", "/failureCount"),
    ("lastStatsAttemptAt", "/lastStatsAttemptAt"),
    ("lastStatsSuccessAt", "/lastStatsSuccessAt"),
    ("latestAddress", "/latestAddress"),
    ("latestVersion", "/latestVersion"),
    ("gossipLastSeen", "/gossipLastSeen"),
    ("seedBaseUrlsSeen", "/seedBaseUrlsSeen"),
    ("seedsSeenCount", "/seedsSeenCount"),
    ("statsTimestamp", "/latestStats/timestamp"),
    ("cpuPercent", "/latestStats/cpuPercent"),
    ("ramUsedBytes", "/latestStats/ramUsedBytes"),
    ("ramTotalBytes", "/latestStats/ramTotalBytes"),
    ("uptimeSeconds", "/latestStats/uptimeSeconds"),
    ("packetsInPerSec", "/latestStats/packetsInPerSec"),
    ("packetsOutPerSec", "/latestStats/packetsOutPerSec"),
    ("totalBytes", "/latestStats/totalBytes"),
    ("activeStreams", "/latestStats/activeStreams"),
    ("bytesPerSecond", "/latestStats/bytesPerSecond"),
    ("latestCredits", "/latestCredits"),
    ("creditsUpdatedAt", "/creditsUpdatedAt"),
    ("creditDelta24h", "/creditDelta24h"),
    ("isPublic", "/isPublic"),
    ("storageCommitted", "/storageCommitted"),
    ("storageUsed", "/storageUsed"),
    ("storageUsagePercent", "/storageUsagePercent"),
    ("score", "/score"),
    ("scoreReachable", "/scoreParts/reachable"),
    ("scoreStatsSuccess24h", "/scoreParts/statsSuccess24h"),
    ("scoreVersionCurrency", "/scoreParts/versionCurrency"),
    ("scoreUptime", "/scoreParts/uptime"),
    ("scoreSeedVisibility", "/scoreParts/seedVisibility"),
    ("scoredAt", "/scoreParts/scoredAt"),
    ("network", "/network"),
];

/// The columns of a node's history as CSV: its stats buckets, oldest first.
pub(crate) const STATS_BUCKET_COLUMNS: [Column; 11] = [
    ("bucketStart", "/bucketStart"),
    ("samples", "/samples"),
    ("cpuPercentAvg", "/cpuPercentAvg"),
    ("cpuPercentMax", "/cpuPercentMax"),
    ("ramUsedBytesAvg", "/ramUsedBytesAvg"),
    ("ramUsedBytesMax", "/ramUsedBytesMax"),
    ("uptimeSecondsLast", "/uptimeSecondsLast"),
    ("packetsInPerSecAvg", "/packetsInPerSecAvg"),
    ("packetsOutPerSecAvg", "/packetsOutPerSecAvg"),
    ("bytesPerSecondAvg", "/bytesPerSecondAvg"),
    ("activeStreamsMax", "/activeStreamsMax"),
];

/// A writer of RFC 4180 rows into memory.
fn writer(capacity: usize) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(capacity))
}

/// The header row of `columns`.
pub(crate) fn header(columns: &[Column]) -> Bytes {
    let mut writer = writer(512);
    // Writing to memory cannot fail.
    let _ = writer.write_record(columns.iter().map(|(name, _)| name));
    Bytes::from(writer.into_inner().unwrap_or_default())
}

/// `items` as CSV rows of `columns` (no header).
pub(crate) fn rows<T: Serialize>(items: &[T], columns: &[Column]) -> Result<Bytes, ViewError> {
    let mut writer = writer(items.len() * 400);
    for item in items {
        let value = serde_json::to_value(item)?;
        let record = columns
            .iter()
            .map(|(_, pointer)| cell(value.pointer(pointer).unwrap_or(&Value::Null)));
        writer
            .write_record(record.collect::<Vec<_>>().iter().map(|f| f.as_bytes()))
            .map_err(|_| ViewError::Internal("writing a CSV row"))?;
    }
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|_| ViewError::Internal("writing a CSV row"))
}

/// The characters a spreadsheet reads as the start of a formula (OWASP "CSV injection").
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A JSON value as a CSV cell: text a spreadsheet would run as a formula gets a leading `'`
/// (which spreadsheets show as text); numbers, booleans and other text are written as they are.
fn cell(value: &Value) -> Cow<'_, str> {
    let text = field(value);
    let textual = matches!(value, Value::String(_) | Value::Array(_));
    if textual && text.starts_with(FORMULA_STARTS) {
        return Cow::Owned(format!("'{text}"));
    }
    text
}

/// A JSON value as a CSV field.
fn field(value: &Value) -> Cow<'_, str> {
    match value {
        Value::Null => Cow::Borrowed(""),
        Value::String(text) => Cow::Borrowed(text),
        Value::Array(items) => Cow::Owned(
            items
                .iter()
                .map(|item| field(item).into_owned())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        other => Cow::Owned(other.to_string()),
    }
}

/// The nodes `ids` of the view as CSV, header first, a chunk at a time (flat in memory). A failure
/// part-way ends the stream there.
pub(crate) fn pnodes(
    db: DatabaseConnection,
    ids: &[i64],
    now: DateTime<Utc>,
    scope: Scope,
    cost: RequestCost,
) -> impl Stream<Item = Result<Bytes, ViewError>> + use<> {
    let head = stream::once(async { Ok(header(&PNODE_COLUMNS)) });
    let rows =
        view_stream::chunks(db, ids, now, scope, cost).map(|nodes| rows(&nodes?, &PNODE_COLUMNS));
    view_stream::until_failure(head.chain(rows))
}

/// The `Content-Disposition` of a CSV answer: a download named `file` (a literal, so that the
/// header is always valid).
pub(crate) fn disposition(file: &'static str) -> (header::HeaderName, header::HeaderValue) {
    (
        header::CONTENT_DISPOSITION,
        header::HeaderValue::from_str(&format!("attachment; filename=\"{file}\""))
            .unwrap_or_else(|_| header::HeaderValue::from_static("attachment")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_as_rfc_4180_says() {
        #[derive(Serialize)]
        struct Row {
            a: Option<String>,
            b: Vec<String>,
            c: f64,
            d: bool,
            e: Option<i64>,
        }
        let row = Row {
            a: Some("say \"hi\", then\r\nleave".into()),
            b: vec!["http://a:1".into(), "http://b:2".into()],
            c: 0.0000517,
            d: true,
            e: None,
        };
        let columns = [
            ("a", "/a"),
            ("b", "/b"),
            ("c", "/c"),
            ("d", "/d"),
            ("e", "/e"),
        ];
        let mut out = header(&columns).to_vec();
        out.extend_from_slice(&rows(&[row], &columns).expect("rows"));
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "a,b,c,d,e\r\n\"say \"\"hi\"\", then\r\nleave\",http://a:1 http://b:2,0.0000517,true,\r\n"
        );
    }

    #[test]
    fn cells_a_spreadsheet_would_run_are_written_as_text() {
        let row = serde_json::json!({
            "version": "=HYPERLINK(\"http://x\",\"click\")",
            "plus": "+1", "at": "@SUM(A1)", "tab": "\tx", "cr": "\rx", "dash": "-2+3",
            "negative": -5, "plain": "0.8.0", "list": ["=cmd", "http://a"],
        });
        let columns = [
            ("version", "/version"),
            ("plus", "/plus"),
            ("at", "/at"),
            ("tab", "/tab"),
            ("cr", "/cr"),
            ("dash", "/dash"),
            ("negative", "/negative"),
            ("plain", "/plain"),
            ("list", "/list"),
        ];
        let out = String::from_utf8(rows(&[row], &columns).expect("rows").to_vec()).expect("utf-8");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(out.as_bytes());
        let record = reader.records().next().expect("a row").expect("valid CSV");
        let cells: Vec<&str> = record.iter().collect();
        assert_eq!(
            cells,
            [
                "'=HYPERLINK(\"http://x\",\"click\")",
                "'+1",
                "'@SUM(A1)",
                "'\tx",
                "'\rx",
                "'-2+3",
                "-5",
                "0.8.0",
                "'=cmd http://a",
            ]
        );
    }

    fn negotiated(accept: Option<&str>, format: Option<&str>) -> Result<Format, InvalidParameter> {
        let mut req = actix_web::test::TestRequest::default();
        if let Some(accept) = accept {
            req = req.insert_header((header::ACCEPT, accept));
        }
        RawFormat {
            format: format.map(str::to_owned),
        }
        .negotiate(&req.to_http_request())
    }

    #[test]
    fn the_parameter_wins_then_accept_decides() {
        assert_eq!(negotiated(None, None).ok(), Some(Format::Json));
        assert_eq!(negotiated(Some("text/csv"), None).ok(), Some(Format::Csv));
        assert_eq!(
            negotiated(Some("application/json, text/csv;q=0.5"), None).ok(),
            Some(Format::Json)
        );
        assert_eq!(
            negotiated(Some("text/csv, application/json;q=0.9"), None).ok(),
            Some(Format::Csv)
        );
        assert_eq!(negotiated(Some("*/*"), None).ok(), Some(Format::Json));
        assert_eq!(
            negotiated(Some("text/csv;q=0, application/json;q=0.5"), None).ok(),
            Some(Format::Json)
        );
        assert_eq!(
            negotiated(Some("text/csv;q=0"), None).ok(),
            Some(Format::Json)
        );
        assert_eq!(negotiated(Some("text/html"), None).ok(), Some(Format::Json));
        assert_eq!(
            negotiated(Some("text/csv"), Some("json")).ok(),
            Some(Format::Json)
        );
        assert_eq!(negotiated(None, Some("csv")).ok(), Some(Format::Csv));
        let err = negotiated(None, Some("xml")).expect_err("unknown");
        assert_eq!(err.parameter, "format");
    }
}
