//! Typed settings (filled in by the service issue).
