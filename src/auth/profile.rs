//! The `user:{id}` profile, the KV key names, and the session decision.
//!
//! A profile is kept as its ordered list of top-level fields with each
//! value's *raw JSON text* ([`RawValue`]), so rewriting `avatar_url` leaves
//! every other field exactly as stored: unknown fields, their order, big
//! integers (no f64 rounding), `1.50`, string escapes, nested objects.

use core::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::AuthError;

/// KV key of a user's profile: `user:{id}`.
pub fn user_key(id: u64) -> String {
    format!("user:{id}")
}

/// Lowercase hex SHA-256 of the token string, exactly as given.
pub fn token_sha256_hex(token: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// KV key marking a logged-out token: `revoked:{sha256 hex of the token}`.
/// Hash the same string [`super::extract_token`] returned (trimmed).
pub fn revoked_key(token: &str) -> String {
    revocation_key(&token_sha256_hex(token))
}

/// KV key marking the token whose SHA-256 hex is `token_hash` logged out
/// (also a refreshed token's `root`: the login it descends from).
pub fn revocation_key(token_hash: &str) -> String {
    format!("revoked:{token_hash}")
}

/// An integer `status`, also when written as a float with no fraction
/// (`-1.0`, as some JSON writers do).
fn whole_number(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
}

/// The top-level fields of a JSON object in document order, values raw.
struct Fields(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8).min(64));
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(V)
    }
}

/// serde_json's private marker for raw values (feature `raw_value`, which
/// this crate enables). serde_json's `Value` reads an object whose first key
/// is this as the JSON text *inside its string*, not as an object:
/// `{"$serde_json::private::RawValue":" 3"}` reads as the number 3, and
/// `{"status":{"$serde_json::private::RawValue":"-1"}}` as status -1.
/// [`Profile::get`] reads fields through `Value`, so such a profile would not
/// be what is stored; it is refused as corrupt instead (fuzz finding #5 in
/// docs/fuzzing.md). No real profile has this key.
const SERDE_RAW_VALUE_KEY: &str = "$serde_json::private::RawValue";

/// Whether `raw` has an object key equal to [`SERDE_RAW_VALUE_KEY`] at any
/// depth (after unescaping: `\u0024serde_json...` is the same key to
/// serde_json). Nested values are walked as raw text, never as `Value`, so
/// numbers are not converted (`1e400`, which `Value` refuses, stays
/// acceptable). Each level re-reads its own text: cost is size × depth, and
/// serde_json caps the depth at 128.
fn has_serde_marker_key(raw: &RawValue) -> Result<bool, serde_json::Error> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'{') => {
            let Fields(fields) = serde_json::from_str(text)?;
            for (key, value) in &fields {
                if key == SERDE_RAW_VALUE_KEY || has_serde_marker_key(value)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text)?;
            for item in items {
                if has_serde_marker_key(item)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        _ => Ok(false),
    }
}

/// A user's profile from `user:{id}` (AnqiCMS field names).
#[derive(Debug, Clone)]
pub struct Profile {
    fields: Vec<(String, Box<RawValue>)>,
    id: Option<u64>,
    user_name: Option<String>,
    status: Option<i64>,
    avatar_url: Option<String>,
}

impl Profile {
    /// Parses the stored JSON. It must be a JSON object; `status`, if
    /// present and not null, must be an integer (a decimal string is
    /// accepted too). Other fields are not checked: a wrong `id` or
    /// `user_name` type reads as `None` but is kept as stored. A key equal
    /// to serde_json's private raw-value marker, at any depth, is refused
    /// (see `SERDE_RAW_VALUE_KEY` in this module).
    pub fn parse(json: &str) -> Result<Profile, AuthError> {
        let Fields(fields) = serde_json::from_str(json).map_err(|_| AuthError::CorruptProfile)?;
        for (key, value) in &fields {
            if key == SERDE_RAW_VALUE_KEY || has_serde_marker_key(value).map_err(|_| AuthError::CorruptProfile)? {
                return Err(AuthError::CorruptProfile);
            }
        }
        let mut p = Profile { fields, id: None, user_name: None, status: None, avatar_url: None };
        // Duplicate keys: the last one wins, as in serde_json and Go.
        p.id = p.get("id").and_then(|v| match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        });
        p.user_name = p.get("user_name").and_then(|v| v.as_str().map(str::to_string));
        p.avatar_url = p.get("avatar_url").and_then(|v| v.as_str().map(str::to_string));
        p.status = match p.get("status") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(whole_number(&n).ok_or(AuthError::CorruptProfile)?),
            Some(Value::String(s)) => Some(s.trim().parse().map_err(|_| AuthError::CorruptProfile)?),
            Some(_) => return Err(AuthError::CorruptProfile),
        };
        Ok(p)
    }

    /// `id`, if it is a non-negative integer (number or decimal string).
    pub fn id(&self) -> Option<u64> {
        self.id
    }

    /// `user_name`, if it is a string.
    pub fn user_name(&self) -> Option<&str> {
        self.user_name.as_deref()
    }

    /// `status`: 1 normal, 0 pending, -1 banned; `None` if absent or null.
    pub fn status(&self) -> Option<i64> {
        self.status
    }

    /// Whether the member is blocked: `status` -1 (AnqiCMS's "banned"), or
    /// any other negative value, which AnqiCMS never writes and so cannot
    /// mean "allowed".
    pub fn is_banned(&self) -> bool {
        self.status.is_some_and(|s| s < 0)
    }

    /// `avatar_url`, if it is a string.
    pub fn avatar_url(&self) -> Option<&str> {
        self.avatar_url.as_deref()
    }

    /// Any top-level field, parsed (the last one if the key repeats).
    pub fn get(&self, key: &str) -> Option<Value> {
        let raw = self.fields.iter().rev().find(|(k, _)| k == key)?;
        serde_json::from_str(raw.1.get()).ok()
    }

    /// The profile as JSON (top-level whitespace dropped, all else as stored).
    pub fn to_json(&self) -> String {
        Self::write(self.fields.iter().map(|(k, v)| (k.as_str(), v.get())))
    }

    /// The profile with `avatar_url` set to `url` (in place, or appended
    /// if absent), and `full_avatar_url` too where the profile has it (the
    /// site's absolute form of the same avatar); every other field untouched.
    pub fn with_avatar_url(&self, url: &str) -> String {
        let new = Value::String(url.to_string()).to_string();
        let mut seen = false;
        let mut entries: Vec<(&str, &str)> = self
            .fields
            .iter()
            .map(|(k, v)| match k.as_str() {
                "avatar_url" => {
                    seen = true;
                    (k.as_str(), new.as_str())
                }
                // AnqiCMS's absolute form of the same avatar.
                "full_avatar_url" => (k.as_str(), new.as_str()),
                _ => (k.as_str(), v.get()),
            })
            .collect();
        if !seen {
            entries.push(("avatar_url", new.as_str()));
        }
        Self::write(entries.into_iter())
    }

    fn write<'a>(entries: impl Iterator<Item = (&'a str, &'a str)>) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in entries.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Value::String(k.to_string()).to_string());
            out.push(':');
            out.push_str(v);
        }
        out.push('}');
        out
    }
}

/// The session decision once the token verified and KV was read.
///
/// - `revoked` (a `revoked:{sha256}` entry exists) → [`AuthError::Revoked`] (1001)
/// - no `user:{id}` → [`AuthError::NoSuchUser`] (1001)
/// - not a JSON object, non-integer `status`, or serde_json's private
///   raw-value key anywhere (`SERDE_RAW_VALUE_KEY`) →
///   [`AuthError::CorruptProfile`] (-1: logging in again cannot help, and
///   rewriting it would destroy the stored data)
/// - `status` -1 → [`AuthError::Banned`] (1002); 0 (pending) and 1 pass
///
/// The caller should also compare [`Profile::id`] with the token's user id
/// if it wants to detect a profile stored under the wrong key.
pub fn session_check(profile_json: Option<&str>, revoked: bool) -> Result<Profile, AuthError> {
    let profile = session_profile(profile_json, revoked)?;
    if profile.is_banned() {
        return Err(AuthError::Banned);
    }
    Ok(profile)
}

/// [`session_check`] without the ban: the member behind a good token,
/// banned or not (a banned member may still log out).
pub fn session_profile(profile_json: Option<&str>, revoked: bool) -> Result<Profile, AuthError> {
    if revoked {
        return Err(AuthError::Revoked);
    }
    let json = profile_json.ok_or(AuthError::NoSuchUser)?;
    Profile::parse(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const P: &str = r#"{"id":7,"user_name":"alice","status":1,"avatar_url":"https://x/old.png"}"#;

    #[test]
    fn keys() {
        assert_eq!(user_key(42), "user:42");
        // sha256("abc"), FIPS 180-2 test vector.
        assert_eq!(token_sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(revoked_key(""), "revoked:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_ne!(revoked_key("a.b.c"), revoked_key("a.b.d"));
    }

    #[test]
    fn parse_known_fields() {
        let p = Profile::parse(P).unwrap();
        assert_eq!(p.id(), Some(7));
        assert_eq!(p.user_name(), Some("alice"));
        assert_eq!(p.status(), Some(1));
        assert_eq!(p.avatar_url(), Some("https://x/old.png"));
        assert!(!p.is_banned());
        assert_eq!(p.get("user_name"), Some(json!("alice")));
        assert_eq!(p.get("nope"), None);
        let p = Profile::parse(r#"{"id":"8","status":"-1"}"#).unwrap();
        assert_eq!((p.id(), p.status(), p.avatar_url()), (Some(8), Some(-1), None));
    }

    #[test]
    fn avatar_update_keeps_everything_else_exactly() {
        let stored = r#"{"id":7, "user_name":"\u963f\u91cc","status":1,"avatar_url":"old",
            "big":123456789012345678901234567890,"price":1.50,"group":{"b":2,"a":[1, 2.0,"x"]},
            "zeta":null,"alpha":true,"esc":"a\"b\\c\/d"}"#;
        let out = Profile::parse(stored).unwrap().with_avatar_url("https://cdn/u/7.webp?v=3f2a");
        assert_eq!(
            out,
            r#"{"id":7,"user_name":"\u963f\u91cc","status":1,"avatar_url":"https://cdn/u/7.webp?v=3f2a","big":123456789012345678901234567890,"price":1.50,"group":{"b":2,"a":[1, 2.0,"x"]},"zeta":null,"alpha":true,"esc":"a\"b\\c\/d"}"#
        );
        // Semantically: only avatar_url differs.
        let mut before: Value = serde_json::from_str(stored).unwrap();
        let after: Value = serde_json::from_str(&out).unwrap();
        before["avatar_url"] = json!("https://cdn/u/7.webp?v=3f2a");
        assert_eq!(before, after);
    }

    #[test]
    fn avatar_update_appends_when_absent_and_escapes() {
        let p = Profile::parse(r#"{"id":7,"user_name":"a","status":1,"x":[]}"#).unwrap();
        let out = p.with_avatar_url(r#"https://x/"q"\u.png"#);
        assert_eq!(out, r#"{"id":7,"user_name":"a","status":1,"x":[],"avatar_url":"https://x/\"q\"\\u.png"}"#);
        assert_eq!(Profile::parse(&out).unwrap().avatar_url(), Some(r#"https://x/"q"\u.png"#));
        assert_eq!(Profile::parse("{}").unwrap().with_avatar_url("u"), r#"{"avatar_url":"u"}"#);
        // The profile itself is unchanged.
        assert_eq!(p.to_json(), r#"{"id":7,"user_name":"a","status":1,"x":[]}"#);
    }

    #[test]
    fn avatar_update_also_sets_the_full_url_anqicms_shows() {
        let p = Profile::parse(
            r#"{"id":5,"avatar_url":"uploads/user/5.gif","full_avatar_url":"https://site/uploads/user/5.gif","x":1}"#,
        )
        .unwrap();
        assert_eq!(
            p.with_avatar_url("https://edge/uploads/user/5.webp?v=1"),
            r#"{"id":5,"avatar_url":"https://edge/uploads/user/5.webp?v=1","full_avatar_url":"https://edge/uploads/user/5.webp?v=1","x":1}"#
        );
    }

    #[test]
    fn avatar_update_replaces_duplicates() {
        let p = Profile::parse(r#"{"avatar_url":"a","id":1,"avatar_url":"b"}"#).unwrap();
        assert_eq!(p.avatar_url(), Some("b"));
        let out = p.with_avatar_url("c");
        assert_eq!(out, r#"{"avatar_url":"c","id":1,"avatar_url":"c"}"#);
    }

    /// Fuzz finding #5 (docs/fuzzing.md): the `profile` target's artifact
    /// (URL line empty). It used to be accepted, while serde_json's `Value`
    /// read the stored text as the number 3 and the updated profile
    /// (`{"$serde_json::private::RawValue":" 3","avatar_url":""}`) not at
    /// all, so the target's `expect("updated profile is JSON")` panicked.
    /// Nested, the marker changed what `get` and `status` saw.
    #[test]
    fn serde_json_raw_value_marker_key_is_corrupt() {
        let artifact = "\n{\"$serde_json::private::RawValue\":\" 3\"}";
        let (_url, json) = artifact.split_once('\n').unwrap();
        // The cause, as serde_json behaves.
        assert_eq!(serde_json::from_str::<Value>(json).unwrap(), json!(3));
        assert_eq!(
            serde_json::from_str::<Value>(r#"{"status":{"$serde_json::private::RawValue":"-1"}}"#).unwrap(),
            json!({"status": -1})
        );
        for bad in [
            json,
            // Nested: read as status -1 (banned) or id 7 before the fix.
            r#"{"id":7,"status":{"$serde_json::private::RawValue":"-1"}}"#,
            r#"{"id":{"$serde_json::private::RawValue":"7"}}"#,
            r#"{"id":7,"x":[1,{"a":[{"$serde_json::private::RawValue":"2"}]}]}"#,
            // Escaped: the same key once unescaped.
            r#"{"\u0024serde_json::private::Raw\u0056alue":"3"}"#,
            // Not the first key, and not a first-position object.
            r#"{"id":7,"g":{"a":1,"$serde_json::private::RawValue":"2"}}"#,
        ] {
            assert_eq!(session_check(Some(bad), false).unwrap_err(), AuthError::CorruptProfile, "{bad}");
            assert!(Profile::parse(bad).is_err(), "{bad}");
        }
        // Only that exact key: as a value, or inside a longer key, it is an
        // ordinary field; numbers `Value` refuses are still kept as stored.
        for ok in [
            r#"{"id":7,"note":"$serde_json::private::RawValue"}"#,
            r#"{"id":7,"$serde_json::private::RawValueX":"3","g":{" $serde_json::private::RawValue":1}}"#,
            r#"{"id":7,"big":1e400,"g":[{"h":[1e400]}]}"#,
        ] {
            let p = session_check(Some(ok), false).unwrap();
            assert_eq!(p.id(), Some(7), "{ok}");
            assert_eq!(p.to_json(), ok);
        }
    }

    #[test]
    fn session_check_cases() {
        let ok = session_check(Some(P), false).unwrap();
        assert_eq!(ok.id(), Some(7));
        assert_eq!(session_check(None, false).unwrap_err(), AuthError::NoSuchUser);
        assert_eq!(session_check(Some(P), true).unwrap_err(), AuthError::Revoked);
        assert_eq!(session_check(None, true).unwrap_err(), AuthError::Revoked);
        let banned = r#"{"id":7,"user_name":"b","status":-1,"avatar_url":""}"#;
        assert_eq!(session_check(Some(banned), false).unwrap_err(), AuthError::Banned);
        // Any negative status blocks, however it is written.
        for s in ["-2", "-100", "\"-1\"", "\" -3 \"", "-1.0"] {
            let j = format!(r#"{{"id":7,"status":{s}}}"#);
            assert_eq!(session_check(Some(&j), false).unwrap_err(), AuthError::Banned, "{j}");
        }
        assert_eq!(session_check(Some(banned), true).unwrap_err(), AuthError::Revoked);
        assert!(session_profile(Some(banned), false).unwrap().is_banned());
        // Pending (0), other statuses and no status are allowed.
        for s in ["0", "1", "2", "null", "\"1\""] {
            let j = format!(r#"{{"id":7,"status":{s}}}"#);
            assert!(session_check(Some(&j), false).is_ok(), "{j}");
        }
        assert!(session_check(Some(r#"{"id":7}"#), false).is_ok());
        // Unusable records: -1, not 1001, and never rewritten.
        for bad in [
            "",
            "null",
            "[]",
            "\"x\"",
            "{",
            "{\"id\":7,}",
            "not json",
            "{\"status\":\"banned\"}",
            "{\"status\":1.5}",
            "{\"status\":true}",
        ] {
            assert_eq!(session_check(Some(bad), false).unwrap_err(), AuthError::CorruptProfile, "{bad}");
        }
    }
}
