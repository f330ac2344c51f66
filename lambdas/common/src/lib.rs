//! Small helpers shared by the example Lambda functions.

use tracing_subscriber::EnvFilter;

/// Install a global `tracing` subscriber suitable for AWS Lambda.
///
/// * The level comes from `RUST_LOG` (default `info`).
/// * No ANSI colours and no timestamps: CloudWatch Logs timestamps every line.
/// * With the `json` cargo feature, every event is written as one flattened
///   JSON object instead of plain text.
///
/// Calling it more than once is harmless (later calls are ignored).
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));

    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .with_target(false);

    #[cfg(feature = "json")]
    let builder = builder.json().flatten_event(true).with_current_span(false);

    // `try_init` so that tests (or a second call) don't panic.
    let _ = builder.try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn init_twice_is_ok() {
        super::init_tracing();
        super::init_tracing();
    }
}
