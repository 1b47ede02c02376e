//! The wire conventions Google's REST APIs share: the JSON error envelope, the canonical status
//! names for HTTP codes, and proto enums sent as names or as numbers.
//!
//! Clients decode errors from the envelope, not from the HTTP code alone (the Rust client reads
//! `error.status`, gcloud prints `error.message`), so every error the fake sends uses it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The content type Google's JSON APIs answer with.
const JSON: &str = "application/json; charset=UTF-8";

/// An error as Google sends it: `{"error":{"code","message","status","details"}}`.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub code: u16,
    pub status: &'static str,
    pub message: String,
    pub details: Vec<Value>,
}

impl ApiError {
    /// An error whose status is the canonical one for the HTTP code.
    pub fn new(code: u16, message: impl Into<String>) -> ApiError {
        ApiError { code, status: status_name(code), message: message.into(), details: Vec::new() }
    }

    /// An error with an explicit status, for codes shared by several statuses (409, 400).
    pub fn with_status(code: u16, status: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { code, status, message: message.into(), details: Vec::new() }
    }

    /// The IAM denial Google answers for a resource the caller cannot see, including one that
    /// does not exist, so that existence does not leak.
    pub fn permission_denied(domain: &str, permission: &str, resource: &str) -> ApiError {
        let message = format!(
            "Permission '{permission}' denied for resource '{resource}' (or it may not exist)."
        );
        let info = json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "IAM_PERMISSION_DENIED",
            "domain": domain,
            "metadata": { "permission": permission, "resource": resource },
        });
        ApiError { details: vec![info], ..ApiError::new(403, message) }
    }

    /// The error a fault injection answers with: the status's usual message.
    pub fn injected(code: u16) -> ApiError {
        ApiError::new(code, default_message(code))
    }

    /// The envelope as JSON.
    pub fn body(&self) -> Value {
        let mut error =
            json!({ "code": self.code, "message": self.message, "status": self.status });
        if !self.details.is_empty() {
            error["details"] = Value::Array(self.details.clone());
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(code, &self.body())
    }
}

/// A JSON answer, pretty-printed like Google's.
pub fn json_response(code: StatusCode, body: &Value) -> Response {
    let text = serde_json::to_string_pretty(body).unwrap_or_default();
    raw_json(code, text)
}

/// An answer with a JSON content type and any text, which may deliberately not be JSON.
pub fn raw_json(code: StatusCode, text: String) -> Response {
    let mut response = (code, text).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// The canonical `google.rpc.Code` name Google pairs with an HTTP code.
pub fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        412 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

fn default_message(code: u16) -> &'static str {
    match code {
        400 => "Request contains an invalid argument.",
        401 => {
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project."
        }
        403 => "The caller does not have permission",
        404 => "Requested entity was not found.",
        409 => "The operation was aborted.",
        429 => "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute'.",
        500 => "Internal error encountered.",
        503 => "The service is currently unavailable.",
        504 => "Deadline expired before operation could complete.",
        _ => "Injected error.",
    }
}

/// Decoded query parameters, in request order.
#[derive(Clone, Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Decodes a query string (`a=1&b=x%20y`).
    pub fn parse(query: &str) -> Params {
        Params(form_urlencoded::parse(query.as_bytes()).into_owned().collect())
    }

    /// The first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The enum encoding asked for through `$alt` (the Rust client) or `alt` (gcloud).
    pub fn enums(&self) -> Enums {
        let alt = self.0.iter().filter(|(k, _)| k == "$alt" || k == "alt");
        Enums::requested(alt.map(|(_, v)| v.as_str()))
    }
}

/// How enums are written: Google sends names unless the request asks for numbers with
/// `$alt=json;enum-encoding=int`, which the official Rust client always does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enums {
    Names,
    Numbers,
}

impl Enums {
    /// The encoding a request asks for through its `$alt` (or `alt`) parameter.
    pub fn requested<'a>(mut alt: impl Iterator<Item = &'a str>) -> Enums {
        if alt.any(|v| v.split(';').any(|p| p.trim() == "enum-encoding=int")) {
            Enums::Numbers
        } else {
            Enums::Names
        }
    }
}

/// `SecretVersion.state`, in proto number order.
const VERSION_STATES: &[&str] = &["STATE_UNSPECIFIED", "ENABLED", "DISABLED", "DESTROYED"];

/// `AuditLogConfig.logType`, in proto number order.
const LOG_TYPES: &[&str] = &["LOG_TYPE_UNSPECIFIED", "ADMIN_READ", "DATA_WRITE", "DATA_READ"];

/// Rewrites the enums of a `SecretVersion`.
pub fn encode_version(version: &mut Value, enums: Enums) {
    recode(version, &["state"], VERSION_STATES, enums);
}

/// Rewrites the enums of an IAM `Policy`.
pub fn encode_policy(policy: &mut Value, enums: Enums) {
    let path = ["auditConfigs", "[]", "auditLogConfigs", "[]", "logType"];
    recode(policy, &path, LOG_TYPES, enums);
}

/// Rewrites the enum at `path` (`[]` steps into every array element) to a name or a number.
fn recode(value: &mut Value, path: &[&str], names: &[&str], enums: Enums) {
    let Some((step, rest)) = path.split_first() else {
        *value = convert(value, names, enums);
        return;
    };
    if *step == "[]" {
        for item in value.as_array_mut().into_iter().flatten() {
            recode(item, rest, names, enums);
        }
    } else if let Some(inner) = value.get_mut(*step) {
        recode(inner, rest, names, enums);
    }
}

fn convert(value: &Value, names: &[&str], enums: Enums) -> Value {
    let number = match value {
        Value::String(s) => names.iter().position(|n| n == s),
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        _ => None,
    };
    match (number, enums) {
        (Some(n), Enums::Numbers) => Value::from(n),
        (Some(n), Enums::Names) if n < names.len() => Value::from(names[n]),
        _ => value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_recoding_round_trips() {
        let mut v = json!({ "state": "DISABLED" });
        encode_version(&mut v, Enums::Numbers);
        assert_eq!(v["state"], 2);
        encode_version(&mut v, Enums::Names);
        assert_eq!(v["state"], "DISABLED");
    }

    #[test]
    fn policy_log_types_are_recoded_inside_arrays() {
        let mut p =
            json!({ "auditConfigs": [{ "auditLogConfigs": [{ "logType": "DATA_READ" }] }] });
        encode_policy(&mut p, Enums::Numbers);
        assert_eq!(p["auditConfigs"][0]["auditLogConfigs"][0]["logType"], 3);
    }

    #[test]
    fn int_encoding_is_read_from_alt() {
        assert_eq!(Enums::requested(["json;enum-encoding=int"].into_iter()), Enums::Numbers);
        assert_eq!(Enums::requested(["json"].into_iter()), Enums::Names);
    }
}
