//! One structured JSON log line per request, for `wrangler tail`.
//!
//! Only facts about the request go in: never the token, never image bytes.

use serde::Serialize;

/// Milliseconds spent per stage of an upload.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct StageMs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orient: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resize: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encode: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<f64>,
}

/// The log record of one request.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct RequestLog {
    pub request_id: String,
    pub method: String,
    pub route: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u64>,
    /// Envelope code for `/api/*`; `None` for other routes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_size: Option<String>,
    /// Short reason on failure (the English message), never secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub ms: StageMs,
    pub total_ms: f64,
}

impl RequestLog {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_line_is_one_json_object_without_empty_fields() {
        let log = RequestLog {
            request_id: "r1".into(),
            method: "POST".into(),
            route: "upload",
            user_id: Some(3),
            code: Some(0),
            status: 200,
            bytes_in: 10,
            bytes_out: 5,
            source_format: Some("JPEG"),
            source_size: Some("4032x3024".into()),
            ms: StageMs { decode: Some(1.5), ..Default::default() },
            ..Default::default()
        };
        let line = log.to_json();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["user_id"], 3);
        assert_eq!(v["ms"]["decode"], 1.5);
        assert!(v["ms"].get("encode").is_none());
        assert!(v.get("error").is_none());
    }
}
