//! Every message the service can send, in both languages: each is entirely
//! in its language (`i18n::mixed_language`) and never empty.

use crate::i18n::{mixed_language, Lang, UserFacing};

fn check_all<E: UserFacing + std::fmt::Debug>(errors: Vec<E>, problems: &mut Vec<String>) {
    assert!(!errors.is_empty());
    for e in &errors {
        for lang in Lang::ALL {
            let msg = e.message(lang);
            if msg.trim().is_empty() {
                problems.push(format!("{e:?} ({lang:?}): empty"));
            }
            if let Some(why) = mixed_language(&msg, lang) {
                problems.push(format!("{e:?} ({lang:?}): {why}: {msg}"));
            }
        }
    }
}

#[test]
fn every_message_is_entirely_in_its_language() {
    let mut problems = Vec::new();
    check_all(crate::envelope::RequestError::samples(), &mut problems);
    check_all(crate::auth::AuthError::samples(), &mut problems);
    check_all(crate::config::ConfigError::samples(), &mut problems);
    check_all(crate::storage::StoreError::samples(), &mut problems);
    check_all(crate::imaging::ImageError::samples(), &mut problems);
    check_all(vec![crate::origin::SiteUnavailable { cause: "HTTP 502".into() }], &mut problems);
    assert!(problems.is_empty(), "{} mixed or empty messages:\n{}", problems.len(), problems.join("\n"));
}
