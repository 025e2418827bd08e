//! Workers KV (profiles, revocations) and R2 (avatar images).
//!
//! Thin wrappers: every failure becomes a [`StoreError`] naming what
//! failed, so routes can answer with an envelope instead of a 500.

pub mod rate_limit;

use worker::{Bucket, Env, HttpMetadata, KvStore};

/// KV namespace binding of profiles and revocations.
pub const USERS_BINDING: &str = "USERS";
/// R2 bucket binding of avatar images.
pub const AVATARS_BINDING: &str = "AVATARS";

/// A storage operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// The binding is missing from the Worker's configuration.
    Unbound(&'static str),
    ProfileRead,
    ProfileWrite,
    RevocationRead,
    RevocationWrite,
    ImageRead,
    ImageWrite,
}

impl StoreError {
    /// Short English name of what failed, for messages and logs.
    pub fn what(self) -> &'static str {
        match self {
            StoreError::Unbound(b) => b,
            StoreError::ProfileRead => "profile read",
            StoreError::ProfileWrite => "profile write",
            StoreError::RevocationRead => "session read",
            StoreError::RevocationWrite => "session write",
            StoreError::ImageRead => "image read",
            StoreError::ImageWrite => "image write",
        }
    }
}

/// The user profiles and revocations in KV.
pub struct Users(KvStore);

impl Users {
    pub fn from_env(env: &Env) -> Result<Self, StoreError> {
        env.kv(USERS_BINDING).map(Users).map_err(|_| StoreError::Unbound(USERS_BINDING))
    }

    /// The raw `user:{id}` JSON, if the user exists.
    pub async fn profile(&self, user_id: u64) -> Result<Option<String>, StoreError> {
        self.0
            .get(&crate::auth::user_key(user_id))
            .text()
            .await
            .map_err(|_| StoreError::ProfileRead)
    }

    pub async fn put_profile(&self, user_id: u64, json: &str) -> Result<(), StoreError> {
        self.0
            .put(&crate::auth::user_key(user_id), json)
            .map_err(|_| StoreError::ProfileWrite)?
            .execute()
            .await
            .map_err(|_| StoreError::ProfileWrite)
    }

    /// Whether this token was logged out.
    pub async fn is_revoked(&self, token: &str) -> Result<bool, StoreError> {
        self.0
            .get(&crate::auth::revoked_key(token))
            .text()
            .await
            .map(|v| v.is_some())
            .map_err(|_| StoreError::RevocationRead)
    }

    /// Marks `token` logged out until it would have expired anyway.
    pub async fn revoke(&self, token: &str, expires_at: u64) -> Result<(), StoreError> {
        self.0
            .put(&crate::auth::revoked_key(token), "1")
            .map_err(|_| StoreError::RevocationWrite)?
            .expiration(expires_at)
            .execute()
            .await
            .map_err(|_| StoreError::RevocationWrite)
    }
}

/// A stored avatar image with what is needed to restore or serve it.
pub struct StoredImage {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    /// The content version (`?v=` of its URL), from custom metadata.
    pub version: Option<String>,
}

/// Custom-metadata key holding an object's content version.
pub const VERSION_META: &str = "v";

/// The avatar images in R2.
pub struct Avatars(Bucket);

impl Avatars {
    pub fn from_env(env: &Env) -> Result<Self, StoreError> {
        env.bucket(AVATARS_BINDING).map(Avatars).map_err(|_| StoreError::Unbound(AVATARS_BINDING))
    }

    pub fn bucket(&self) -> &Bucket {
        &self.0
    }

    /// The current object at `key` (small: an avatar), to restore it if a
    /// later step of the upload fails.
    pub async fn read(&self, key: &str) -> Result<Option<StoredImage>, StoreError> {
        let Some(obj) = self.0.get(key).execute().await.map_err(|_| StoreError::ImageRead)? else {
            return Ok(None);
        };
        let content_type = obj.http_metadata().content_type;
        let version = obj.custom_metadata().ok().and_then(|m| m.get(VERSION_META).cloned());
        let body = obj.body().ok_or(StoreError::ImageRead)?;
        let bytes = body.bytes().await.map_err(|_| StoreError::ImageRead)?;
        Ok(Some(StoredImage { bytes, content_type, version }))
    }

    /// The content version of the object now at `key`, without its body.
    pub async fn version(&self, key: &str) -> Result<Option<String>, StoreError> {
        let head = self.0.head(key).await.map_err(|_| StoreError::ImageRead)?;
        Ok(head.and_then(|o| o.custom_metadata().ok()).and_then(|m| m.get(VERSION_META).cloned()))
    }

    pub async fn write(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        version: Option<&str>,
    ) -> Result<(), StoreError> {
        let meta: std::collections::HashMap<String, String> =
            version.map(|v| (VERSION_META.to_string(), v.to_string())).into_iter().collect();
        self.0
            .put(key, bytes)
            .http_metadata(HttpMetadata {
                content_type: Some(content_type.to_string()),
                ..Default::default()
            })
            .custom_metadata(meta)
            .execute()
            .await
            .map(|_| ())
            .map_err(|_| StoreError::ImageWrite)
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key).await.map_err(|_| StoreError::ImageWrite)
    }
}
