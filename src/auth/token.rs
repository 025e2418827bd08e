//! Where the token comes from, HS256 verification, and minting the
//! `Update-Token`.
//!
//! jwt-compact parses the token and does the alg check, the signature
//! length check and the constant-time HMAC comparison. Its `Claims<T>` is
//! not used for reading: it only takes numeric `exp`, while AnqiCMS writes
//! `t` (and clients may write `exp`) as decimal strings. So the signature is
//! verified first, on the raw `header.payload` bytes, and only then are the
//! claims decoded here from a `serde_json::Map`.

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::alg::{Hs256, Hs256Key, Hs256Signature};
use jwt_compact::{Algorithm, AlgorithmExt, AlgorithmSignature, Claims, Header, UntrustedToken};
use serde::Serialize;
use serde_json::{Map, Value};

use super::AuthError;

/// Longest token looked at; longer input is [`AuthError::Malformed`]
/// without being decoded. AnqiCMS tokens are about 120 characters.
pub const MAX_TOKEN_LEN: usize = 4096;
/// Validity of a token minted for `Update-Token` (AnqiCMS: 24 h).
pub const REFRESH_VALIDITY_SECS: i64 = 86_400;
/// A token expiring within this many seconds gets an `Update-Token`.
pub const REFRESH_WINDOW_SECS: i64 = 3_600;

/// Suffix AnqiCMS appends to its `TokenSecret` to form the HMAC key.
const KEY_SUFFIX: &str = "-user-token";

/// Where the request's token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// The `Token` header (AnqiCMS clients).
    Header,
    /// The `token` cookie (AnqiCMS web pages).
    Cookie,
    /// `Authorization: Bearer ...`.
    Bearer,
}

/// The token of a request and where it was found.
///
/// `header` looks a header up by name (case-insensitively, as HTTP
/// headers are). Order: `Token` header, then the `token` cookie, then
/// `Authorization: Bearer`. Empty or blank values count as absent; values
/// are trimmed. A present but invalid token is returned as is (it then
/// fails verification; there is no fall-through to the next source).
pub fn find_token(header: impl Fn(&str) -> Option<String>) -> Option<(TokenSource, String)> {
    if let Some(t) = header("Token").and_then(|v| non_empty(&v)) {
        return Some((TokenSource::Header, t));
    }
    if let Some(t) = header("Cookie").and_then(|v| cookie_value(&v, "token")) {
        return Some((TokenSource::Cookie, t));
    }
    if let Some(t) = header("Authorization").and_then(|v| bearer(&v)) {
        return Some((TokenSource::Bearer, t));
    }
    None
}

/// The token of a request (see [`find_token`] for the order).
pub fn extract_token(header: impl Fn(&str) -> Option<String>) -> Option<String> {
    find_token(header).map(|(_, t)| t)
}

fn non_empty(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// The first non-empty value of cookie `name` in a `Cookie` header
/// (`a=b; token=xyz`). Names are case-sensitive (RFC 6265). Pairs are
/// split on `;` and also on `,` (a cookie value may contain neither, and
/// some proxies join several `Cookie` headers with `, `). A value in
/// double quotes is unquoted.
fn cookie_value(header: &str, name: &str) -> Option<String> {
    header.split([';', ',']).filter_map(|pair| pair.split_once('=')).filter(|(n, _)| n.trim() == name).find_map(
        |(_, v)| {
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(v);
            non_empty(v)
        },
    )
}

/// The credentials of `Authorization: Bearer <token>` (scheme in any case).
fn bearer(header: &str) -> Option<String> {
    let (scheme, rest) = header.trim().split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    non_empty(rest)
}

/// A token whose signature verified and that is not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// From `userId` (AnqiCMS) or `sub`; always > 0.
    pub user_id: u64,
    /// Unix seconds, from `t` (AnqiCMS) or `exp`; the earlier if both.
    pub expires_at: i64,
    /// The login this token was refreshed from (claims `root`/`rootT`, which
    /// only tokens minted for `Update-Token` carry); `None` for a token
    /// issued at login, which is its own root.
    pub lineage: Option<Lineage>,
}

/// The login a refreshed token descends from: logging that login out (or
/// any token of the family) ends all of them, however often they were
/// refreshed. AnqiCMS ignores these extra claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// SHA-256 hex of the token issued at login.
    pub root: String,
    /// When that token expires (unix seconds).
    pub root_expires_at: i64,
}

impl Verified {
    /// The family this token belongs to, as a token minted from it must
    /// carry it: its own lineage, or itself when it is a login token.
    pub fn lineage_for_refresh(&self, token: &str) -> Lineage {
        self.lineage
            .clone()
            .unwrap_or_else(|| Lineage { root: super::token_sha256_hex(token), root_expires_at: self.expires_at })
    }
}

fn key(secret: &str) -> Result<Hs256Key, AuthError> {
    if secret.is_empty() {
        // The key would be the public string "-user-token": fail closed.
        return Err(AuthError::NoSecret);
    }
    let mut bytes = Vec::with_capacity(secret.len() + KEY_SUFFIX.len());
    bytes.extend_from_slice(secret.as_bytes());
    bytes.extend_from_slice(KEY_SUFFIX.as_bytes());
    Ok(Hs256Key::new(&bytes))
}

/// Verifies an AnqiCMS login token.
///
/// Key: UTF-8 of `secret + "-user-token"`. Only `alg: HS256` is accepted.
/// Claims: `userId` or `sub` (positive integer, as a decimal string or a
/// JSON number), and `t` or `exp` (unix seconds, string or number; a token
/// without either is refused). If both names of a claim are present, the
/// ids must agree and the earlier expiry counts. `nbf`, if present, must
/// not be in the future. A token with expiry `<= now_unix` is expired.
pub fn verify_token(token: &str, secret: &str, now_unix: i64) -> Result<Verified, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed);
    }
    let key = key(secret)?;
    let untrusted = UntrustedToken::new(token).map_err(|_| AuthError::Malformed)?;

    let alg = untrusted.algorithm();
    if alg != Hs256.name() {
        return Err(AuthError::UnsupportedAlg(alg.chars().take(32).collect()));
    }
    // jwt-compact's `try_from_slice` for HMACs panics on a wrong length:
    // check it first, as its own validator does.
    let sig = untrusted.signature_bytes();
    if Some(sig.len()) != Hs256Signature::LENGTH.map(|n| n.get()) {
        return Err(AuthError::BadSignature);
    }
    let sig = Hs256Signature::try_from_slice(sig).map_err(|_| AuthError::BadSignature)?;
    // UntrustedToken accepted exactly three dot-separated parts; the signed
    // data is everything before the last dot (as jwt-compact computes it).
    let (signed, _) = token.rsplit_once('.').ok_or(AuthError::Malformed)?;
    // Constant-time comparison (CtOutput / subtle) inside jwt-compact.
    if !Hs256.verify_signature(&sig, &key, signed.as_bytes()) {
        return Err(AuthError::BadSignature);
    }

    // Authentic from here on; decode the claims ourselves.
    let (_, payload) = signed.split_once('.').ok_or(AuthError::Malformed)?;
    read_claims(payload, now_unix)
}

/// The claims of a token whose signature someone else checked (in origin
/// mode without `TOKEN_SECRET`, the AnqiCMS site has just accepted it):
/// read for its expiry and lineage only, never to decide who it is.
pub fn unverified_claims(token: &str, now_unix: i64) -> Result<Verified, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed);
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(payload), Some(_), None) => read_claims(payload, now_unix),
        _ => Err(AuthError::Malformed),
    }
}

/// Decodes and checks the claims of the base64url `payload`.
fn read_claims(payload: &str, now_unix: i64) -> Result<Verified, AuthError> {
    let payload = Base64UrlUnpadded::decode_vec(payload).map_err(|_| AuthError::Malformed)?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload).map_err(|_| AuthError::Malformed)?;

    let user_id = match (claims.get("userId"), claims.get("sub")) {
        (None, None) => return Err(AuthError::Malformed),
        (Some(a), None) | (None, Some(a)) => parse_id(a)?,
        (Some(a), Some(b)) => {
            let (a, b) = (parse_id(a)?, parse_id(b)?);
            if a != b {
                return Err(AuthError::Malformed);
            }
            a
        }
    };
    let expires_at = match (claims.get("t"), claims.get("exp")) {
        (None, None) => return Err(AuthError::NoExpiry),
        (Some(a), None) | (None, Some(a)) => parse_time(a)?,
        (Some(a), Some(b)) => parse_time(a)?.min(parse_time(b)?),
    };
    if let Some(nbf) = claims.get("nbf") {
        if parse_time(nbf)? > now_unix {
            return Err(AuthError::NotYetValid);
        }
    }
    if expires_at <= now_unix {
        return Err(AuthError::Expired);
    }
    let lineage = match (claims.get("root"), claims.get("rootT")) {
        (None, None) => None,
        (Some(Value::String(root)), Some(t)) if is_sha256_hex(root) => {
            Some(Lineage { root: root.clone(), root_expires_at: parse_time(t)? })
        }
        _ => return Err(AuthError::Malformed),
    };
    Ok(Verified { user_id, expires_at, lineage })
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// ASCII digits only (no sign, space or `0x`), as `%d` writes them.
fn parse_digits<T: core::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok() // fails on overflow
}

/// A user id: positive integer, JSON number or decimal string.
fn parse_id(v: &Value) -> Result<u64, AuthError> {
    let id = match v {
        Value::Number(n) => n.as_u64(), // None for negatives and fractions
        Value::String(s) => parse_digits::<u64>(s),
        _ => None,
    };
    id.filter(|&id| id > 0).ok_or(AuthError::Malformed)
}

/// A NumericDate: JSON number (integer, or fraction: rounded down) or
/// decimal-digit string (AnqiCMS `t`).
fn parse_time(v: &Value) -> Result<i64, AuthError> {
    let t = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= i64::MIN as f64 && *f < i64::MAX as f64)
                .map(|f| f.floor() as i64)
        }),
        Value::String(s) => parse_digits::<i64>(s),
        _ => None,
    };
    t.ok_or(AuthError::Malformed)
}

/// Whether the token expires within the next hour (and so the response
/// should carry an `Update-Token`). Exactly one hour left counts.
pub fn needs_refresh(v: &Verified, now_unix: i64) -> bool {
    v.expires_at.saturating_sub(now_unix) <= REFRESH_WINDOW_SECS
}

/// AnqiCMS claims, as `GetUserAuthToken` writes them: both decimal
/// strings, plus the lineage of a refreshed token. Field order =
/// golang-jwt's (Go sorts map keys), so a token without lineage is
/// byte-identical to one AnqiCMS would mint.
#[derive(Serialize)]
struct AnqiClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    root: Option<String>,
    #[serde(rename = "rootT", skip_serializing_if = "Option::is_none")]
    root_t: Option<String>,
    t: String,
    #[serde(rename = "userId")]
    user_id: String,
}

/// Mints an AnqiCMS-style token: header `{"alg":"HS256","typ":"JWT"}`,
/// claims `{"t":"<expires_at>","userId":"<user_id>"}`, preceded by
/// `"root"`/`"rootT"` when `lineage` is given (a refreshed token).
pub fn mint_token(user_id: u64, secret: &str, expires_at: i64, lineage: Option<&Lineage>) -> Result<String, AuthError> {
    if user_id == 0 {
        return Err(AuthError::Malformed);
    }
    let key = key(secret)?;
    let header = Header::empty().with_token_type("JWT");
    let claims = Claims::new(AnqiClaims {
        root: lineage.map(|l| l.root.clone()),
        root_t: lineage.map(|l| l.root_expires_at.to_string()),
        t: expires_at.to_string(),
        user_id: user_id.to_string(),
    });
    Hs256.token(&header, &claims, &key).map_err(|_| AuthError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use sha2::{Sha256, Sha384};

    const SECRET: &str = "anqi-secret-of-site";
    const NOW: i64 = 1_700_000_000;

    /// Independent base64url (no padding), so test tokens do not depend on
    /// the code under test.
    fn b64(data: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }

    fn hs256(key: &[u8], data: &str) -> Vec<u8> {
        let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
        m.update(data.as_bytes());
        m.finalize().into_bytes().to_vec()
    }

    /// A token signed by hand: HMAC-SHA256 over `b64(header).b64(claims)`
    /// with `secret + "-user-token"`, as golang-jwt does.
    fn signed(header: &str, claims: &str, secret: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let sig = hs256(format!("{secret}-user-token").as_bytes(), &input);
        format!("{input}.{}", b64(&sig))
    }

    fn hs(claims: &str) -> String {
        signed(r#"{"alg":"HS256","typ":"JWT"}"#, claims, SECRET)
    }

    fn verify(token: &str) -> Result<Verified, AuthError> {
        verify_token(token, SECRET, NOW)
    }

    #[test]
    fn test_base64_helper_is_right() {
        assert_eq!(b64(b""), "");
        assert_eq!(b64(b"f"), "Zg");
        assert_eq!(b64(b"fo"), "Zm8");
        assert_eq!(b64(b"foo"), "Zm9v");
        assert_eq!(b64(&[0xfb, 0xff]), "-_8");
    }

    /// Generated outside Rust (Node's crypto), byte-for-byte what AnqiCMS
    /// (golang-jwt, sorted map keys, RawURLEncoding) writes for user 42,
    /// t=1700003600, TokenSecret "anqi-secret-of-site".
    const ANQICMS_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
        eyJ0IjoiMTcwMDAwMzYwMCIsInVzZXJJZCI6IjQyIn0.\
        sd1ON6G4pgJS7ZDvT2zH6wMNLRvPijU0bGTY2_IgFfw";
    /// Same tool: `{"sub":7,"exp":1700003600,"iat":1699917200}`.
    const STANDARD_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
        eyJzdWIiOjcsImV4cCI6MTcwMDAwMzYwMCwiaWF0IjoxNjk5OTE3MjAwfQ.\
        YixYtAo9n3gbX-Y-wZqmaDkhsfs8sSlabblILVY1cts";

    #[test]
    fn known_good_anqicms_token_verifies() {
        assert_eq!(verify(ANQICMS_TOKEN), Ok(Verified { user_id: 42, expires_at: 1_700_003_600, lineage: None }));
        assert_eq!(verify(STANDARD_TOKEN), Ok(Verified { user_id: 7, expires_at: 1_700_003_600, lineage: None }));
    }

    #[test]
    fn hand_signed_hmac_token_verifies() {
        let t = hs(r#"{"t":"1700003600","userId":"42"}"#);
        assert_eq!(t, ANQICMS_TOKEN, "hand HMAC agrees with the external vector");
        let t = hs(r#"{"userId":"9","t":"1700000001","extra":{"a":[1]}}"#);
        assert_eq!(verify(&t), Ok(Verified { user_id: 9, expires_at: 1_700_000_001, lineage: None }));
    }

    #[test]
    fn mint_is_byte_identical_to_anqicms() {
        assert_eq!(mint_token(42, SECRET, 1_700_003_600, None).unwrap(), ANQICMS_TOKEN);
    }

    #[test]
    fn mint_verify_round_trip() {
        let t = mint_token(123_456, SECRET, NOW + REFRESH_VALIDITY_SECS, None).unwrap();
        assert_eq!(verify(&t), Ok(Verified { user_id: 123_456, expires_at: NOW + 86_400, lineage: None }));
        assert_eq!(verify_token(&t, "other", NOW), Err(AuthError::BadSignature));
        assert_eq!(mint_token(0, SECRET, NOW + 10, None), Err(AuthError::Malformed));
        assert_eq!(mint_token(1, "", NOW + 10, None), Err(AuthError::NoSecret));
    }

    #[test]
    fn refreshed_tokens_carry_the_login_they_descend_from() {
        let login = mint_token(5, SECRET, NOW + 600, None).unwrap();
        let v = verify(&login).unwrap();
        assert_eq!(v.lineage, None);
        let family = v.lineage_for_refresh(&login);
        assert_eq!(family.root, crate::auth::token_sha256_hex(&login));
        assert_eq!(family.root_expires_at, NOW + 600);
        let refreshed = mint_token(5, SECRET, NOW + REFRESH_VALIDITY_SECS, Some(&family)).unwrap();
        let r = verify(&refreshed).unwrap();
        assert_eq!(r.lineage.as_ref(), Some(&family));
        // Refreshing again keeps the original root, not the parent.
        assert_eq!(r.lineage_for_refresh(&refreshed), family);
        // The claims as AnqiCMS's parser sees them: two extra strings.
        let payload = refreshed.split('.').nth(1).unwrap();
        let claims = String::from_utf8(Base64UrlUnpadded::decode_vec(payload).unwrap()).unwrap();
        assert_eq!(
            claims,
            format!(r#"{{"root":"{}","rootT":"{}","t":"{}","userId":"5"}}"#, family.root, NOW + 600, NOW + 86_400)
        );
    }

    #[test]
    fn unverified_claims_read_expiry_without_the_secret() {
        let t = mint_token(8, "another-secret", NOW + 500, None).unwrap();
        assert_eq!(verify(&t), Err(AuthError::BadSignature));
        assert_eq!(unverified_claims(&t, NOW), Ok(Verified { user_id: 8, expires_at: NOW + 500, lineage: None }));
        assert_eq!(unverified_claims("a.b", NOW), Err(AuthError::Malformed));
        assert_eq!(unverified_claims(&format!("{t}.x"), NOW), Err(AuthError::Malformed));
    }

    #[test]
    fn lineage_claims_must_be_whole() {
        let root = "a".repeat(64);
        for claims in [
            format!(r#"{{"userId":"1","t":"{}","root":"{root}"}}"#, NOW + 10),
            format!(r#"{{"userId":"1","t":"{}","rootT":"{}"}}"#, NOW + 10, NOW + 10),
            format!(r#"{{"userId":"1","t":"{}","root":"xyz","rootT":"{}"}}"#, NOW + 10, NOW + 10),
            format!(r#"{{"userId":"1","t":"{}","root":"{}","rootT":"{}"}}"#, NOW + 10, "A".repeat(64), NOW + 10),
            format!(r#"{{"userId":"1","t":"{}","root":7,"rootT":"{}"}}"#, NOW + 10, NOW + 10),
        ] {
            assert_eq!(verify(&hs(&claims)), Err(AuthError::Malformed), "{claims}");
        }
        let ok = format!(r#"{{"userId":"1","t":"{}","root":"{root}","rootT":{}}}"#, NOW + 10, NOW + 99);
        let lineage = verify(&hs(&ok)).unwrap().lineage.unwrap();
        assert_eq!((lineage.root.as_str(), lineage.root_expires_at), (root.as_str(), NOW + 99));
    }

    #[test]
    fn claim_styles_numbers_and_strings() {
        let ok = |claims: &str, id, exp| {
            assert_eq!(verify(&hs(claims)), Ok(Verified { user_id: id, expires_at: exp, lineage: None }), "{claims}");
        };
        ok(r#"{"userId":"5","t":"1700000100"}"#, 5, 1_700_000_100);
        ok(r#"{"userId":5,"t":1700000100}"#, 5, 1_700_000_100);
        ok(r#"{"sub":6,"exp":1700000200}"#, 6, 1_700_000_200);
        ok(r#"{"sub":"6","exp":"1700000200"}"#, 6, 1_700_000_200);
        ok(r#"{"sub":"6","exp":1700000200.9}"#, 6, 1_700_000_200);
        ok(r#"{"userId":"6","exp":1700000200}"#, 6, 1_700_000_200);
        // Both names: ids agree, the earlier expiry counts.
        ok(r#"{"userId":"8","sub":8,"t":"1700000300","exp":1700000200}"#, 8, 1_700_000_200);
        ok(r#"{"userId":"8","t":"1700000300","nbf":1699999999}"#, 8, 1_700_000_300);
    }

    #[test]
    fn bad_claims_are_malformed() {
        for claims in [
            r#"{"userId":"abc","t":"1700000100"}"#,
            r#"{"userId":"","t":"1700000100"}"#,
            r#"{"userId":"0","t":"1700000100"}"#,
            r#"{"userId":"-3","t":"1700000100"}"#,
            r#"{"userId":"+3","t":"1700000100"}"#,
            r#"{"userId":" 3","t":"1700000100"}"#,
            r#"{"userId":"3.0","t":"1700000100"}"#,
            r#"{"userId":"99999999999999999999999","t":"1700000100"}"#,
            r#"{"userId":0,"t":"1700000100"}"#,
            r#"{"userId":-3,"t":"1700000100"}"#,
            r#"{"userId":3.5,"t":"1700000100"}"#,
            r#"{"userId":true,"t":"1700000100"}"#,
            r#"{"userId":null,"t":"1700000100"}"#,
            r#"{"sub":"user-3","exp":1700000100}"#,
            r#"{"userId":"3","sub":"4","t":"1700000100"}"#,
            r#"{"t":"1700000100"}"#,
            r#"{"userId":"3","t":"soon"}"#,
            r#"{"userId":"3","t":""}"#,
            r#"{"userId":"3","exp":"1e10"}"#,
            r#"{"userId":"3","exp":[1700000100]}"#,
            r#"{"userId":"3","exp":1700000100,"t":"x"}"#,
            r#"{"userId":"3","t":"1700000100","nbf":"x"}"#,
            r#"[1,2]"#,
            r#""text""#,
            r#"not json"#,
        ] {
            assert_eq!(verify(&hs(claims)), Err(AuthError::Malformed), "{claims}");
        }
    }

    #[test]
    fn missing_expiry_is_refused() {
        assert_eq!(verify(&hs(r#"{"userId":"3"}"#)), Err(AuthError::NoExpiry));
        assert_eq!(verify(&hs(r#"{"sub":3,"iat":1700000000}"#)), Err(AuthError::NoExpiry));
    }

    #[test]
    fn expiry_boundary() {
        assert_eq!(verify(&hs(r#"{"userId":"3","t":"1700000000"}"#)), Err(AuthError::Expired));
        assert_eq!(verify(&hs(r#"{"userId":"3","t":"1699999999"}"#)), Err(AuthError::Expired));
        assert_eq!(verify(&hs(r#"{"sub":3,"exp":0}"#)), Err(AuthError::Expired));
        assert_eq!(verify(&hs(r#"{"sub":3,"exp":-5}"#)), Err(AuthError::Expired));
        assert!(verify(&hs(r#"{"userId":"3","t":"1700000001"}"#)).is_ok());
        // The external vector expired one second after its `t`.
        assert_eq!(verify_token(ANQICMS_TOKEN, SECRET, 1_700_003_600), Err(AuthError::Expired));
        assert!(verify_token(ANQICMS_TOKEN, SECRET, 1_700_003_599).is_ok());
    }

    #[test]
    fn future_nbf_is_refused() {
        let t = hs(r#"{"userId":"3","t":"1700000100","nbf":1700000050}"#);
        assert_eq!(verify(&t), Err(AuthError::NotYetValid));
    }

    #[test]
    fn alg_none_is_refused() {
        let claims = b64(br#"{"userId":"1","t":"1700000100"}"#);
        for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"None"}"#, r#"{"alg":"NONE"}"#] {
            let t = format!("{}.{claims}.", b64(header.as_bytes()));
            assert!(matches!(verify(&t), Err(AuthError::UnsupportedAlg(_))), "{header}");
            // Even with a valid HS256 signature appended.
            let input = format!("{}.{claims}", b64(header.as_bytes()));
            let sig = hs256(format!("{SECRET}-user-token").as_bytes(), &input);
            let t = format!("{input}.{}", b64(&sig));
            assert!(matches!(verify(&t), Err(AuthError::UnsupportedAlg(_))), "{header}");
        }
        // No signature part at all.
        let t = format!("{}.{claims}", b64(br#"{"alg":"none"}"#));
        assert_eq!(verify(&t), Err(AuthError::Malformed));
    }

    #[test]
    fn hs384_is_refused() {
        let input =
            format!("{}.{}", b64(br#"{"alg":"HS384","typ":"JWT"}"#), b64(br#"{"userId":"1","t":"1700000100"}"#));
        let mut m = Hmac::<Sha384>::new_from_slice(format!("{SECRET}-user-token").as_bytes()).unwrap();
        m.update(input.as_bytes());
        let sig = m.finalize().into_bytes();
        let t = format!("{input}.{}", b64(&sig));
        assert_eq!(verify(&t), Err(AuthError::UnsupportedAlg("HS384".into())));

        // An HS384-length signature under an HS256 header: refused, no panic.
        let input256 =
            format!("{}.{}", b64(br#"{"alg":"HS256","typ":"JWT"}"#), b64(br#"{"userId":"1","t":"1700000100"}"#));
        let t = format!("{input256}.{}", b64(&sig));
        assert_eq!(verify(&t), Err(AuthError::BadSignature));
        // Empty, short and one-byte-too-long signatures as well.
        assert_eq!(verify(&format!("{input256}.")), Err(AuthError::BadSignature));
        assert_eq!(verify(&format!("{input256}.{}", b64(&[1; 31]))), Err(AuthError::BadSignature));
        assert_eq!(verify(&format!("{input256}.{}", b64(&[1; 33]))), Err(AuthError::BadSignature));
    }

    #[test]
    fn rs256_and_other_algs_are_refused() {
        let claims = r#"{"userId":"1","t":"1700000100"}"#;
        for alg in ["RS256", "ES256", "PS256", "EdDSA", "HS512", "hs256", "HS256 ", ""] {
            let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
            let t = signed(&header, claims, SECRET);
            assert_eq!(verify(&t), Err(AuthError::UnsupportedAlg(alg.into())), "{alg}");
        }
        // RS256 with a 256-byte signature.
        let t = format!("{}.{}.{}", b64(br#"{"alg":"RS256","typ":"JWT"}"#), b64(claims.as_bytes()), b64(&[7; 256]));
        assert_eq!(verify(&t), Err(AuthError::UnsupportedAlg("RS256".into())));
        // Long alg names are cut for the logs.
        let long = "X".repeat(100);
        let t = signed(&format!(r#"{{"alg":"{long}"}}"#), claims, SECRET);
        assert_eq!(verify(&t), Err(AuthError::UnsupportedAlg("X".repeat(32))));
        // No alg at all.
        assert_eq!(verify(&signed(r#"{"typ":"JWT"}"#, claims, SECRET)), Err(AuthError::Malformed));
    }

    #[test]
    fn tampered_payload_is_refused() {
        let good = mint_token(42, SECRET, NOW + 100, None).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        // Another user id, same signature.
        let forged_claims = b64(format!(r#"{{"t":"{}","userId":"1"}}"#, NOW + 100).as_bytes());
        let t = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert_eq!(verify(&t), Err(AuthError::BadSignature));
        // Longer validity, same signature.
        let forged_claims = b64(br#"{"t":"9999999999","userId":"42"}"#);
        let t = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert_eq!(verify(&t), Err(AuthError::BadSignature));
        // A single flipped character of the payload.
        let mut p = parts[1].to_string().into_bytes();
        p[3] = if p[3] == b'A' { b'B' } else { b'A' };
        let t = format!("{}.{}.{}", parts[0], String::from_utf8(p).unwrap(), parts[2]);
        assert!(matches!(verify(&t), Err(AuthError::BadSignature | AuthError::Malformed)), "{t}");
        // Tampered header (alg kept, typ changed).
        let t = format!("{}.{}.{}", b64(br#"{"alg":"HS256","typ":"jwt"}"#), parts[1], parts[2]);
        assert_eq!(verify(&t), Err(AuthError::BadSignature));
    }

    #[test]
    fn tampered_signature_is_refused() {
        let good = mint_token(42, SECRET, NOW + 100, None).unwrap();
        let (input, sig) = good.rsplit_once('.').unwrap();
        let mut bytes = Base64UrlUnpadded::decode_vec(sig).unwrap();
        for i in [0, 15, 31] {
            let mut b = bytes.clone();
            b[i] ^= 1;
            assert_eq!(verify(&format!("{input}.{}", b64(&b))), Err(AuthError::BadSignature));
        }
        bytes.iter_mut().for_each(|b| *b = 0);
        assert_eq!(verify(&format!("{input}.{}", b64(&bytes))), Err(AuthError::BadSignature));
        // Non-base64 signature.
        assert_eq!(verify(&format!("{input}.!!!")), Err(AuthError::Malformed));
    }

    #[test]
    fn wrong_secret_is_refused() {
        let t = signed(r#"{"alg":"HS256","typ":"JWT"}"#, r#"{"userId":"1","t":"1700000100"}"#, "other");
        assert_eq!(verify(&t), Err(AuthError::BadSignature));
        // The suffix matters: signing with the bare secret does not verify.
        let input = format!("{}.{}", b64(br#"{"alg":"HS256"}"#), b64(br#"{"userId":"1","t":"1700000100"}"#));
        let t = format!("{input}.{}", b64(&hs256(SECRET.as_bytes(), &input)));
        assert_eq!(verify(&t), Err(AuthError::BadSignature));
        // An empty secret never verifies anything, even a token signed with it.
        let t = signed(r#"{"alg":"HS256"}"#, r#"{"userId":"1","t":"1700000100"}"#, "");
        assert_eq!(verify_token(&t, "", NOW), Err(AuthError::NoSecret));
    }

    #[test]
    fn unicode_secret_uses_utf8_bytes() {
        let secret = "密钥-ключ";
        let t = signed(r#"{"alg":"HS256"}"#, r#"{"userId":"1","t":"1700000100"}"#, secret);
        assert!(verify_token(&t, secret, NOW).is_ok());
        let m = mint_token(1, secret, NOW + 100, None).unwrap();
        assert!(verify_token(&m, secret, NOW).is_ok());
    }

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        for t in [
            "",
            ".",
            "..",
            "...",
            "abc",
            "a.b.c",
            "a.b.c.d",
            "eyJhbGciOiJIUzI1NiJ9..",
            "eyJhbGciOiJIUzI1NiJ9.e30.e30.e30",
            "Bearer x.y.z",
            "é.é.é",
            long.as_str(),
        ] {
            assert!(matches!(verify(t), Err(AuthError::Malformed | AuthError::BadSignature)), "{t:?}: {:?}", verify(t));
        }
        // A validly signed token with a non-JSON payload.
        let input = format!("{}.{}", b64(br#"{"alg":"HS256"}"#), b64(&[0xff, 0xfe, 0x00]));
        let t = format!("{input}.{}", b64(&hs256(format!("{SECRET}-user-token").as_bytes(), &input)));
        assert_eq!(verify(&t), Err(AuthError::Malformed));
    }

    #[test]
    fn refresh_boundary() {
        let v = |exp| Verified { user_id: 1, expires_at: exp, lineage: None };
        assert!(needs_refresh(&v(NOW + 1), NOW));
        assert!(needs_refresh(&v(NOW + 3_599), NOW));
        assert!(needs_refresh(&v(NOW + 3_600), NOW));
        assert!(!needs_refresh(&v(NOW + 3_601), NOW));
        assert!(!needs_refresh(&v(NOW + 86_400), NOW));
        assert!(!needs_refresh(&v(i64::MAX), i64::MIN));
        assert!(needs_refresh(&v(i64::MIN), i64::MAX));
    }

    fn headers(list: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name: &str| list.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.to_string())
    }

    #[test]
    fn extraction_order() {
        let all = headers(&[("token", "H"), ("cookie", "token=C"), ("authorization", "Bearer B")]);
        assert_eq!(find_token(all), Some((TokenSource::Header, "H".into())));
        let no_header = headers(&[("Cookie", "token=C"), ("Authorization", "Bearer B")]);
        assert_eq!(find_token(no_header), Some((TokenSource::Cookie, "C".into())));
        let only_bearer = headers(&[("Cookie", "other=1"), ("Authorization", "Bearer B")]);
        assert_eq!(find_token(only_bearer), Some((TokenSource::Bearer, "B".into())));
        assert_eq!(extract_token(headers(&[])), None);
        assert_eq!(extract_token(headers(&[("TOKEN", " H ")])), Some("H".into()));
    }

    #[test]
    fn empty_values_count_as_absent() {
        let h = headers(&[("Token", "  "), ("Cookie", "token=; a=b"), ("Authorization", "Bearer B")]);
        assert_eq!(find_token(h), Some((TokenSource::Bearer, "B".into())));
        let h = headers(&[("Token", ""), ("Cookie", "token=C")]);
        assert_eq!(find_token(h), Some((TokenSource::Cookie, "C".into())));
        let h = headers(&[("Token", ""), ("Cookie", "token=\"\""), ("Authorization", "Bearer   ")]);
        assert_eq!(find_token(h), None);
    }

    #[test]
    fn cookie_parsing() {
        let c = |v: &str| cookie_value(v, "token");
        assert_eq!(c("token=xyz"), Some("xyz".into()));
        assert_eq!(c("a=b; token=xyz"), Some("xyz".into()));
        assert_eq!(c("a=b;token=xyz;c=d"), Some("xyz".into()));
        assert_eq!(c("  token = xyz  ; c=d"), Some("xyz".into()));
        assert_eq!(c("a=b, token=xyz"), Some("xyz".into()));
        assert_eq!(c("token=\"xyz\""), Some("xyz".into()));
        assert_eq!(c("mytoken=no; token_old=no; Token=no; xtoken=no"), None);
        assert_eq!(c("a=token=no"), None);
        assert_eq!(c("token"), None);
        assert_eq!(c(""), None);
        assert_eq!(c("token=; token=second"), Some("second".into()));
        assert_eq!(c("token=first; token=second"), Some("first".into()));
        // A JWT keeps its dots, dashes and underscores.
        assert_eq!(c(&format!("lang=zh; token={ANQICMS_TOKEN}")), Some(ANQICMS_TOKEN.into()));
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer("Bearer abc"), Some("abc".into()));
        assert_eq!(bearer("bearer abc"), Some("abc".into()));
        assert_eq!(bearer("BEARER   abc  "), Some("abc".into()));
        assert_eq!(bearer("Bearer\tabc"), Some("abc".into()));
        assert_eq!(bearer("Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer("Bearerabc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("abc"), None);
    }

    #[test]
    fn extracted_token_verifies() {
        let h = move |name: &str| name.eq_ignore_ascii_case("cookie").then(|| format!("a=1; token={ANQICMS_TOKEN}"));
        let t = extract_token(h).unwrap();
        assert_eq!(verify(&t).map(|v| v.user_id), Ok(42));
    }
}
