//! The accept loop's one rule, shared by the control socket and the HTTP endpoint: a failed
//! `accept` (EMFILE and friends) is logged and backed off, never spun on.

use std::future::Future;
use std::io;
use std::time::Duration;

use actors::events;

/// How long to wait after a failed `accept` before trying again.
const BACK_OFF: Duration = Duration::from_millis(10);

/// The next connection `accept` gives; failures are logged (`accept_failed`, with `endpoint`)
/// and retried after [`BACK_OFF`], so a queued connection the daemon cannot take yet (no
/// descriptor left) does not turn the loop into a busy one.
pub async fn next<S, A, F, Fut>(endpoint: &'static str, mut accept: F) -> S
where
    F: FnMut() -> Fut,
    Fut: Future<Output = io::Result<(S, A)>>,
{
    loop {
        match accept().await {
            Ok((stream, _)) => return stream,
            Err(error) => {
                tracing::warn!(
                    event = events::ACCEPT_FAILED,
                    endpoint,
                    error = %error,
                    "{endpoint} accept failed"
                );
                tokio::time::sleep(BACK_OFF).await;
            }
        }
    }
}
