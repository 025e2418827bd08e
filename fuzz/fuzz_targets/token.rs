//! Token handling: finding the token in the request headers and verifying
//! it (HS256, AnqiCMS claims). Never a panic; verification never accepts a
//! token it should not.
//!
//! Input: one mode byte, then UTF-8 text.
//! * mode % 4 == 0: the text is the token, verified as received (parsing,
//!   alg and signature checks; nothing forged gets past the HMAC).
//! * mode % 4 == 1: the text is `header.payload` (base64url); the harness
//!   signs it with the right key first, so the claim parsing behind the
//!   signature check is reached too. It must then never be `BadSignature`.
//! * mode % 4 == 2: the text is up to three header values separated by
//!   `\n` (Token, Cookie, Authorization); the found token is verified.
//! * mode % 4 == 3: the text is JSON claims, base64url-encoded under a
//!   fixed HS256 header and signed (a shortcut to the claim parser).
#![no_main]

use avatar_edge::auth::{extract_token, find_token, mint_token, needs_refresh, verify_token, AuthError, MAX_TOKEN_LEN};
use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

const SECRET: &str = "fuzz-secret";
const NOW: i64 = 1_700_000_000;

fn sign(signed: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(format!("{SECRET}-user-token").as_bytes()).unwrap();
    m.update(signed.as_bytes());
    format!("{signed}.{}", Base64UrlUnpadded::encode_string(&m.finalize().into_bytes()))
}

fn check(token: &str, signed_by_us: bool) {
    let r = verify_token(token, SECRET, NOW);
    // The same token under another secret never verifies.
    assert!(verify_token(token, "other-secret", NOW).is_err());
    // No secret: never accepted (an over-long token is refused before the
    // key is even looked at).
    let no_secret = verify_token(token, "", NOW);
    if token.len() <= MAX_TOKEN_LEN {
        assert_eq!(no_secret, Err(AuthError::NoSecret));
    } else {
        assert_eq!(no_secret, Err(AuthError::Malformed));
    }
    match r {
        Ok(v) => {
            // Accepted means: the last part is exactly the HMAC of the rest.
            let (signed, sig) = token.rsplit_once('.').unwrap();
            assert_eq!(
                sign(signed),
                token,
                "accepted with a signature that is not ours (signed by us: {signed_by_us}): {sig:?}"
            );
            assert!(v.user_id > 0);
            assert!(v.expires_at > NOW);
            // Still valid a second before expiry, expired at it.
            assert_eq!(verify_token(token, SECRET, v.expires_at - 1), Ok(v.clone()));
            assert_eq!(verify_token(token, SECRET, v.expires_at), Err(AuthError::Expired));
            let _ = needs_refresh(&v, NOW);
            // Re-minting gives a token with the same meaning, lineage included.
            let again = mint_token(v.user_id, SECRET, v.expires_at, v.lineage.as_ref()).unwrap();
            assert_eq!(verify_token(&again, SECRET, NOW), Ok(v));
        }
        Err(AuthError::BadSignature) => {
            assert!(!signed_by_us || token.len() > MAX_TOKEN_LEN, "correctly signed token refused: {token:?}")
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match mode % 4 {
        0 => check(text, false),
        1 => check(&sign(text), true),
        2 => {
            let mut values = text.splitn(3, '\n');
            let (tok, cookie, auth) = (values.next(), values.next(), values.next());
            let header = |name: &str| {
                match name.to_ascii_lowercase().as_str() {
                    "token" => tok,
                    "cookie" => cookie,
                    "authorization" => auth,
                    _ => None,
                }
                .map(str::to_string)
            };
            let found = find_token(header);
            assert_eq!(found.as_ref().map(|(_, t)| t.clone()), extract_token(header));
            if let Some((_, t)) = found {
                assert!(!t.is_empty() && t.trim() == t, "untrimmed token {t:?}");
                check(&t, false);
            }
        }
        _ => {
            let h = Base64UrlUnpadded::encode_string(br#"{"alg":"HS256","typ":"JWT"}"#);
            let p = Base64UrlUnpadded::encode_string(text.as_bytes());
            check(&sign(&format!("{h}.{p}")), true);
        }
    }
});
