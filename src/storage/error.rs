//! Storage failures and what the member is told about them.

use crate::i18n::{Lang, UserFacing};

/// What a storage operation was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ProfileRead,
    RevocationRead,
    RevocationWrite,
    CacheRead,
    CacheWrite,
    ImageRead,
    ImageWrite,
}

impl Operation {
    /// Short English name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Operation::ProfileRead => "profile read",
            Operation::RevocationRead => "session read",
            Operation::RevocationWrite => "session write",
            Operation::CacheRead => "login cache read",
            Operation::CacheWrite => "login cache write",
            Operation::ImageRead => "image read",
            Operation::ImageWrite => "image write",
        }
    }
}

/// A storage operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The binding is missing from the Worker's configuration.
    Unbound(&'static str),
    /// The runtime refused or failed the operation; `cause` is its own
    /// message, for the log only.
    Failed { op: Operation, cause: String },
}

impl StoreError {
    /// What was being done (for the member's message: it never shows the cause).
    pub fn operation(&self) -> Option<Operation> {
        match self {
            StoreError::Unbound(_) => None,
            StoreError::Failed { op, .. } => Some(*op),
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Unbound(b) => write!(f, "binding {b} is missing"),
            StoreError::Failed { op, cause } => write!(f, "{} failed: {cause}", op.name()),
        }
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    /// One of each, for the tests that read every message.
    #[cfg(test)]
    pub(crate) fn samples() -> Vec<StoreError> {
        use Operation::*;
        let mut all: Vec<StoreError> =
            [ProfileRead, RevocationRead, RevocationWrite, CacheRead, CacheWrite, ImageRead, ImageWrite]
                .into_iter()
                .map(|op| StoreError::Failed { op, cause: "cause".into() })
                .collect();
        all.push(StoreError::Unbound("USERS"));
        all
    }
}

impl UserFacing for StoreError {
    fn message(&self, lang: Lang) -> String {
        match self.operation() {
            // The session could not be read: the member is still logged
            // in, as far as anyone knows (never 1001, which makes AnqiCMS
            // clients drop the token).
            Some(Operation::ProfileRead | Operation::RevocationRead | Operation::CacheRead) => lang
                .pick("暂时无法验证登录状态，头像未更改，请稍后重试", "Your login could not be checked right now; your avatar was not changed, please try again in a moment")
                .to_string(),
            Some(Operation::RevocationWrite) => lang
                .pick("退出登录失败，请稍后重试", "Logging out failed; please try again")
                .to_string(),
            Some(_) => lang
                .pick("保存失败，头像未更改，请稍后重试", "Saving failed; your avatar was not changed, please try again")
                .to_string(),
            None => {
                let binding = match self {
                    StoreError::Unbound(b) => *b,
                    StoreError::Failed { .. } => "",
                };
                match lang {
                    Lang::Zh => format!("服务配置错误：缺少存储绑定 {binding}，请联系网站管理员"),
                    Lang::En => format!("The service is misconfigured: the binding {binding} is missing; please tell the site administrator"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::CODE_ERROR;

    #[test]
    fn failures_are_minus_one_and_never_show_the_cause() {
        for op in [
            Operation::ProfileRead,
            Operation::RevocationRead,
            Operation::RevocationWrite,
            Operation::CacheRead,
            Operation::CacheWrite,
            Operation::ImageRead,
            Operation::ImageWrite,
        ] {
            let e = StoreError::Failed { op, cause: "secret-internal-detail".into() };
            assert_eq!(e.code(), CODE_ERROR);
            for lang in [Lang::Zh, Lang::En] {
                assert!(!e.message(lang).contains("secret-internal-detail"));
            }
            assert!(e.to_string().contains("secret-internal-detail"), "the log keeps the cause");
        }
        let read = StoreError::Failed { op: Operation::ProfileRead, cause: String::new() };
        assert!(read.message(Lang::En).contains("try again"));
        assert_eq!(StoreError::Unbound("USERS").code(), CODE_ERROR);
    }
}
