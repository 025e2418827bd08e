//! Token extraction, JWT verification and the session decision.
