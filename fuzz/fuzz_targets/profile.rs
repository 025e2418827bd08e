//! The stored `user:{id}` profile: the session decision and the avatar
//! update. Never a panic; the update sets `avatar_url` (and `full_avatar_url`
//! when present) and changes nothing else (compared as JSON values).
//!
//! Input: the avatar URL, `\n`, the stored profile JSON.
#![no_main]

use avatar_edge::auth::{session_check, AuthError, Profile};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (url, json) = text.split_once('\n').unwrap_or(("https://example.com/uploads/user/1.webp?v=1", text));
    let banned = match session_check(Some(json), false) {
        Ok(p) => {
            assert!(!p.is_banned());
            false
        }
        Err(AuthError::Banned) => true,
        Err(AuthError::CorruptProfile) => {
            assert!(Profile::parse(json).is_err());
            return;
        }
        Err(e) => panic!("unexpected {e:?}"),
    };
    assert_eq!(session_check(Some(json), true).unwrap_err(), AuthError::Revoked);
    let p = Profile::parse(json).expect("session_check parsed it");
    assert_eq!(p.is_banned(), banned);

    // to_json round-trips.
    let again = Profile::parse(&p.to_json()).expect("to_json output parses");
    assert_eq!(again.to_json(), p.to_json());

    let updated = p.with_avatar_url(url);
    let q = Profile::parse(&updated).expect("updated profile parses");
    assert_eq!(q.avatar_url(), Some(url));
    assert_eq!((q.id(), q.user_name(), q.status()), (p.id(), p.user_name(), p.status()));
    // Only avatar_url (and full_avatar_url, AnqiCMS's absolute form of the
    // same avatar, when the profile has one) differ, as JSON values.
    // (serde_json's Value refuses numbers beyond f64, e.g. 1e400, which the
    // raw-text profile keeps as stored: nothing to compare then.)
    let Ok(mut before) = serde_json::from_str::<Value>(json) else { return };
    let after: Value = serde_json::from_str(&updated).expect("updated profile is JSON");
    before["avatar_url"] = Value::String(url.to_string());
    if let Some(full) = before.get_mut("full_avatar_url") {
        *full = Value::String(url.to_string());
    }
    assert_eq!(before, after);
});
