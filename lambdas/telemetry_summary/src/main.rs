//! telemetry_summary: an external Lambda extension (a separate process next to any runtime).
//!
//! It registers for INVOKE and SHUTDOWN, subscribes to the Telemetry API (platform and
//! function records), counts invokes, the function's log lines and the platform reports, and
//! at SHUTDOWN prints one JSON line with the summary (it lands in the function's log group).
//! Deploy it as a layer: `RustExtension(self, "Summary", manifest_path=..., binary_name=
//! "telemetry_summary")`; Lambda starts `/opt/extensions/telemetry_summary`.

mod summary;

use std::sync::{Arc, Mutex};

use lambda_extension::{
    service_fn, Error, Extension, LambdaEvent, LambdaTelemetry, NextEvent, SharedService,
};
use summary::Summary;

/// Port of the local listener the Telemetry API posts to (any free port works in Lambda).
const DEFAULT_PORT: u16 = 9003;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let port = std::env::var("TELEMETRY_SUMMARY_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(DEFAULT_PORT);
    let state = Arc::new(Mutex::new(Summary::default()));

    let telemetry_state = state.clone();
    let telemetry = service_fn(move |events: Vec<LambdaTelemetry>| {
        let state = telemetry_state.clone();
        async move {
            let mut summary = state.lock().expect("summary lock");
            for event in &events {
                summary.record_telemetry(event);
            }
            Ok::<(), Error>(())
        }
    });

    let events_state = state.clone();
    let events = service_fn(move |event: LambdaEvent| {
        let state = events_state.clone();
        async move {
            let mut summary = state.lock().expect("summary lock");
            match event.next {
                NextEvent::Invoke(_) => summary.record_invoke(),
                NextEvent::Shutdown(shutdown) => {
                    println!("{}", summary.to_json(&shutdown.shutdown_reason));
                }
            }
            Ok::<(), Error>(())
        }
    });

    Extension::new()
        .with_events(&["INVOKE", "SHUTDOWN"])
        .with_events_processor(events)
        .with_telemetry_types(&["platform", "function"])
        .with_telemetry_port_number(port)
        .with_telemetry_processor(SharedService::new(telemetry))
        .run()
        .await
}
