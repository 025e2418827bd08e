//! Why the DC-only decoder (or the check) stopped before the end of the
//! image.

use crate::imaging::work::Spent;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stop {
    /// Not for this path, or entropy data this decoder does not take: the
    /// general decoder (jpeg-decoder) decides.
    Decline,
    /// A scan's data (or a restart interval's) ended before its blocks: a
    /// damaged file, for any decoder.
    Truncated,
    /// The upload's work budget is spent.
    Spent,
}

/// `Option` → [`Stop::Decline`]: a lookup that fails means the data is not
/// what this decoder takes.
pub(super) trait OrDecline<T> {
    fn or_decline(self) -> Result<T, Stop>;
}

impl<T> OrDecline<T> for Option<T> {
    fn or_decline(self) -> Result<T, Stop> {
        self.ok_or(Stop::Decline)
    }
}

impl From<Spent> for Stop {
    fn from(_: Spent) -> Stop {
        Stop::Spent
    }
}
