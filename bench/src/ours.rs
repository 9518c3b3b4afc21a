//! `/read` and `/write` on our session, shared by the three frameworks.

use session_core::{Result, Session};

/// The session key `/read` and `/write` use, in every mode.
pub const KEY: &str = "n";

/// `/read` with our session: `n`, or 0.
pub async fn read(session: &Session) -> Result<u64> {
    Ok(session.get::<u64>(KEY).await?.unwrap_or(0))
}

/// `/write` with our session: stores and returns `n + 1`.
pub async fn write(session: &Session) -> Result<u64> {
    let n = read(session).await? + 1;
    session.set(KEY, &n).await?;
    Ok(n)
}
