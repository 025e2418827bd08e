//! The KV and R2 bindings (Worker only).

use worker::{Bucket, Env, HttpMetadata, KvStore};

use super::{Operation, StoreError};
use crate::auth::{revocation_key, user_key};
use crate::paths::{self, STORED_EXTS};

/// Maps a runtime error to the failure of `op`, keeping its message.
fn failed<E: std::fmt::Display>(op: Operation) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Failed { op, cause: e.to_string() }
}

/// KV namespace binding of profiles and revocations.
pub const USERS_BINDING: &str = "USERS";
/// R2 bucket binding of avatar images.
pub const AVATARS_BINDING: &str = "AVATARS";

/// The user profiles, revocations and the origin-mode login cache in KV.
pub struct Users(KvStore);

impl Users {
    pub fn from_env(env: &Env) -> Result<Self, StoreError> {
        env.kv(USERS_BINDING).map(Users).map_err(|_| StoreError::Unbound(USERS_BINDING))
    }

    /// The raw `user:{id}` JSON, if the user exists (KV-only mode).
    pub async fn profile(&self, user_id: u64) -> Result<Option<String>, StoreError> {
        self.0.get(&user_key(user_id)).text().await.map_err(failed(Operation::ProfileRead))
    }

    /// Whether any of these token hashes (a token and the login it was
    /// refreshed from) was logged out. The reads run together.
    pub async fn any_revoked(&self, token_hashes: &[&str]) -> Result<bool, StoreError> {
        let reads = token_hashes
            .iter()
            .map(|h| async move { self.0.get(&revocation_key(h)).text().await.map(|v| v.is_some()) });
        let found = futures_util::future::join_all(reads).await;
        let mut any = false;
        for f in found {
            any |= f.map_err(failed(Operation::RevocationRead))?;
        }
        Ok(any)
    }

    /// Marks the token whose hash is `token_hash` logged out until
    /// `expires_at` (unix seconds; KV needs at least 60 s ahead).
    pub async fn revoke(&self, token_hash: &str, expires_at: u64) -> Result<(), StoreError> {
        self.0
            .put(&revocation_key(token_hash), "1")
            .map_err(failed(Operation::RevocationWrite))?
            .expiration(expires_at)
            .execute()
            .await
            .map_err(failed(Operation::RevocationWrite))
    }

    /// A cached value (origin mode), if present.
    pub async fn cached(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0.get(key).text().await.map_err(failed(Operation::CacheRead))
    }

    /// Caches `value` under `key` for `ttl_secs` (at least 60, KV's minimum).
    pub async fn cache(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError> {
        self.0
            .put(key, value)
            .map_err(failed(Operation::CacheWrite))?
            .expiration_ttl(ttl_secs.max(60))
            .execute()
            .await
            .map_err(failed(Operation::CacheWrite))
    }
}

/// Custom-metadata key holding an object's content version.
pub const VERSION_META: &str = "v";

/// A member's current avatar in R2: which of the stored formats, and its
/// content version (the `?v=` of its URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentAvatar {
    pub ext: &'static str,
    pub version: String,
}

/// The avatar images in R2.
pub struct Avatars(Bucket);

impl Avatars {
    pub fn from_env(env: &Env) -> Result<Self, StoreError> {
        env.bucket(AVATARS_BINDING).map(Avatars).map_err(|_| StoreError::Unbound(AVATARS_BINDING))
    }

    pub fn bucket(&self) -> &Bucket {
        &self.0
    }

    /// The content version of the object now at `key`, without its body.
    pub async fn version(&self, key: &str) -> Result<Option<String>, StoreError> {
        let head = self.0.head(key).await.map_err(failed(Operation::ImageRead))?;
        Ok(head.and_then(|o| o.custom_metadata().ok()).and_then(|m| m.get(VERSION_META).cloned()))
    }

    /// The member's avatar as R2 holds it now: the most recently stored of
    /// `uploads/user/{id}.{webp,jpg,png}` (an operator may have changed
    /// `OUTPUT_FORMAT` since an older upload). The heads run together.
    pub async fn current(&self, user_id: u64) -> Result<Option<CurrentAvatar>, StoreError> {
        let heads = STORED_EXTS.iter().map(|ext| async move {
            let key = paths::avatar_key(user_id, ext);
            (*ext, self.0.head(&key).await)
        });
        let mut newest: Option<(f64, CurrentAvatar)> = None;
        for (ext, head) in futures_util::future::join_all(heads).await {
            let Some(object) = head.map_err(failed(Operation::ImageRead))? else { continue };
            let Some(version) = object.custom_metadata().ok().and_then(|m| m.get(VERSION_META).cloned()) else {
                continue;
            };
            let uploaded = object.uploaded().as_millis() as f64;
            if newest.as_ref().is_none_or(|(t, _)| uploaded > *t) {
                newest = Some((uploaded, CurrentAvatar { ext, version }));
            }
        }
        Ok(newest.map(|(_, current)| current))
    }

    /// Stores an avatar with its content version. When the runtime reports
    /// a failure, the object is looked at once more: a write that landed
    /// although its answer was lost counts as done (the member would
    /// otherwise see an error for an avatar that did change).
    pub async fn write(&self, key: &str, bytes: Vec<u8>, content_type: &str, version: &str) -> Result<(), StoreError> {
        let meta: std::collections::HashMap<String, String> =
            [(VERSION_META.to_string(), version.to_string())].into_iter().collect();
        let put = self
            .0
            .put(key, bytes)
            .http_metadata(HttpMetadata { content_type: Some(content_type.to_string()), ..Default::default() })
            .custom_metadata(meta)
            .execute()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) => match self.version(key).await {
                Ok(Some(stored)) if stored == version => Ok(()),
                _ => Err(failed(Operation::ImageWrite)(e)),
            },
        }
    }

    /// The object at `key` with its version, for the write-back.
    pub async fn read(&self, key: &str) -> Result<Option<(Vec<u8>, Option<String>)>, StoreError> {
        let Some(obj) = self.0.get(key).execute().await.map_err(failed(Operation::ImageRead))? else {
            return Ok(None);
        };
        let version = obj.custom_metadata().ok().and_then(|m| m.get(VERSION_META).cloned());
        let body =
            obj.body().ok_or_else(|| StoreError::Failed { op: Operation::ImageRead, cause: "no body".into() })?;
        let bytes = body.bytes().await.map_err(failed(Operation::ImageRead))?;
        Ok(Some((bytes, version)))
    }
}
