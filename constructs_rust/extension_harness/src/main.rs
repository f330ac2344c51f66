//! Runs one Lambda execution environment locally and reports it as JSON on stdout.
//!
//! The Lambda APIs (Runtime, Extensions, Telemetry) are the `lambda-simulator` crate's; this
//! program only orders the lifecycle the way Lambda does and records what happened:
//!
//! 1. INIT: start every external extension (the scenario's `extensions`), wait until each has
//!    registered and asked for its first event (`/extension/event/next`), then start the
//!    runtime (`function`) and wait for its first `/runtime/invocation/next`.
//! 2. INVOKE: one invocation per event, in order; each waits for the response and for every
//!    INVOKE-subscribed extension to ask for its next event again.
//! 3. SHUTDOWN: SIGTERM to the runtime, SHUTDOWN to the extensions, wait for them to
//!    acknowledge (their next `/next`) up to `shutdown_timeout_ms`, then stop every process
//!    (SIGTERM, SIGKILL after one second).
//!
//! Usage: `constructs-rust-extension-harness <scenario.json>`; see `Scenario` for the fields.
//! Each process's stdout+stderr goes to its `log` file (the caller reads them).

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lambda_simulator::{InvocationStatus, ShutdownReason, Simulator};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Process {
    /// Full argv (an emulator prefix such as qemu first, when needed).
    argv: Vec<String>,
    /// Added to the Lambda variables the simulator defines (these win).
    #[serde(default)]
    env: HashMap<String, String>,
    /// Where stdout and stderr go.
    log: PathBuf,
}

#[derive(Deserialize)]
struct Scenario {
    function: Process,
    #[serde(default)]
    extensions: Vec<Process>,
    #[serde(default)]
    events: Vec<Value>,
    function_name: String,
    memory_size: u32,
    invocation_timeout_ms: u64,
    init_timeout_ms: u64,
    shutdown_timeout_ms: u64,
}

#[derive(Serialize)]
struct Registration {
    name: String,
    events: Vec<String>,
    /// Extension process started → `/extension/register` received.
    spawn_to_register_ms: Option<f64>,
    /// `/extension/register` → first `/extension/event/next` (the extension is ready).
    register_to_ready_ms: Option<f64>,
}

#[derive(Serialize)]
struct Invocation {
    request_id: String,
    status: String,
    response: Option<Value>,
    error: Option<Value>,
    /// Runtime took the event (`/next`) → response posted.
    duration_ms: Option<f64>,
    /// Response posted → every INVOKE-subscribed extension asked for its next event.
    extension_overhead_ms: Option<f64>,
}

#[derive(Serialize, Default)]
struct Report {
    ok: bool,
    error: Option<String>,
    registrations: Vec<Registration>,
    /// Extensions ready → runtime's first `/runtime/invocation/next` (process start included).
    runtime_init_ms: Option<f64>,
    invocations: Vec<Invocation>,
    /// Extensions subscribed to SHUTDOWN that acknowledged it (asked `/next` again) in time.
    shutdown_acknowledged: bool,
    /// SHUTDOWN sent → acknowledgement of every subscriber (or the timeout).
    shutdown_ms: Option<f64>,
    telemetry: Vec<Value>,
    /// Exit status of the runtime (null: killed, or never started).
    function_exit_code: Option<i32>,
    /// Exit status per extension, in the scenario's order (null: killed).
    extension_exit_codes: Vec<Option<i32>>,
}

fn ms_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_microseconds().unwrap_or(0) as f64 / 1000.0
}

fn spawn(process: &Process, lambda_env: &HashMap<String, String>) -> Result<Child, String> {
    let (program, args) = process.argv.split_first().ok_or("empty argv")?;
    let log = File::create(&process.log).map_err(|e| format!("{}: {e}", process.log.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    Command::new(program)
        .args(args)
        .env_clear()
        .envs(lambda_env)
        .envs(&process.env)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))
}

fn exited(children: &mut [Child]) -> Option<String> {
    for child in children.iter_mut() {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(format!("process {} exited early with {status}", child.id()));
        }
    }
    None
}

fn stop(children: &mut [Child]) -> Vec<Option<i32>> {
    for child in children.iter() {
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut codes = vec![None; children.len()];
    for (i, child) in children.iter_mut().enumerate() {
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    codes[i] = status.code();
                    break;
                }
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
    }
    codes
}

async fn run(scenario: Scenario, report: &mut Report, children: &mut Vec<Child>) -> Result<(), String> {
    let sim = Simulator::builder()
        .function_name(scenario.function_name.clone())
        .memory_size_mb(scenario.memory_size)
        .handler("bootstrap")
        .account_id("123456789012")
        .invocation_timeout(Duration::from_millis(scenario.invocation_timeout_ms))
        .init_timeout(Duration::from_millis(scenario.init_timeout_ms))
        .extension_ready_timeout(Duration::from_millis(scenario.invocation_timeout_ms))
        .shutdown_timeout(Duration::from_millis(scenario.shutdown_timeout_ms))
        .build()
        .await
        .map_err(|e| format!("simulator: {e}"))?;
    sim.enable_telemetry_capture().await;
    let lambda_env = sim.lambda_env_vars();
    let init_timeout = Duration::from_millis(scenario.init_timeout_ms);

    // INIT, extensions first: each must register and ask for its first event.
    let mut spawned_at = Vec::new();
    for ext in &scenario.extensions {
        spawned_at.push(Utc::now());
        children.push(spawn(ext, &lambda_env)?);
    }
    let wanted = scenario.extensions.len();
    let deadline = Instant::now() + init_timeout;
    loop {
        let registered = sim.get_registered_extensions().await;
        let mut ready = 0;
        for ext in &registered {
            if sim.first_next_poll_at(&ext.id).await.is_some() {
                ready += 1;
            }
        }
        if ready >= wanted {
            break;
        }
        if let Some(problem) = exited(children) {
            return Err(format!("during extension init: {problem}"));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{ready} of {wanted} extensions registered and ready within {init_timeout:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut registered = sim.get_registered_extensions().await;
    registered.sort_by_key(|e| e.registered_at);
    for ext in &registered {
        let ready_at = sim.first_next_poll_at(&ext.id).await;
        // Extensions are matched to their process start by the name they registered with
        // (lambda-extension uses the executable's file name), else by order.
        let index = scenario
            .extensions
            .iter()
            .position(|p| {
                p.argv.last().map(|a| a.rsplit('/').next() == Some(ext.name.as_str())) == Some(true)
            })
            .unwrap_or(report.registrations.len().min(spawned_at.len().saturating_sub(1)));
        report.registrations.push(Registration {
            name: ext.name.clone(),
            events: ext.events.iter().map(|e| format!("{e:?}").to_uppercase()).collect(),
            spawn_to_register_ms: spawned_at.get(index).map(|s| ms_between(*s, ext.registered_at)),
            register_to_ready_ms: ready_at.map(|r| ms_between(ext.registered_at, r)),
        });
    }

    // INIT, then the runtime.
    let started = Instant::now();
    children.insert(0, spawn(&scenario.function, &lambda_env)?);
    let deadline = started + init_timeout;
    while !sim.is_initialized().await {
        if let Some(error) = sim.get_init_error().await {
            return Err(format!("runtime init error: {error}"));
        }
        if let Some(problem) = exited(children) {
            return Err(format!("during runtime init: {problem}"));
        }
        if Instant::now() > deadline {
            return Err(format!("the runtime did not ask for an event within {init_timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    report.runtime_init_ms = Some(started.elapsed().as_secs_f64() * 1000.0);

    // INVOKE, one event after the other.
    let timeout = Duration::from_millis(scenario.invocation_timeout_ms);
    for event in scenario.events {
        let request_id = sim.enqueue_payload(event).await;
        let state = sim
            .wait_for_invocation_complete(&request_id, timeout)
            .await
            .map_err(|e| format!("invocation {request_id}: {e}"))?;
        sim.wait_for_extensions_ready(&request_id, timeout)
            .await
            .map_err(|e| format!("invocation {request_id}: {e}"))?;
        let duration_ms = match (&state.started_at, &state.response) {
            (Some(s), Some(r)) => Some(ms_between(*s, r.received_at)),
            _ => None,
        };
        report.invocations.push(Invocation {
            request_id: request_id.clone(),
            status: match state.status {
                InvocationStatus::Success => "success",
                InvocationStatus::Error => "error",
                InvocationStatus::Timeout => "timeout",
                _ => "pending",
            }
            .to_string(),
            response: state.response.map(|r| r.payload),
            error: state.error.map(|e| json!({"type": e.error_type, "message": e.error_message})),
            duration_ms,
            extension_overhead_ms: sim.get_extension_overhead_ms(&request_id).await,
        });
    }

    // SHUTDOWN: SIGTERM to the runtime (Lambda does so when extensions are registered), then the
    // SHUTDOWN event to the extensions.
    if let Some(runtime) = children.first() {
        let _ = kill(Pid::from_raw(runtime.id() as i32), Signal::SIGTERM);
    }
    let shutdown_started = Instant::now();
    // graceful_shutdown consumes the simulator: read what is left to read first.
    let telemetry = sim.get_telemetry_events().await;
    sim.graceful_shutdown(ShutdownReason::Spindown).await;
    let elapsed = shutdown_started.elapsed();
    report.shutdown_ms = Some(elapsed.as_secs_f64() * 1000.0);
    report.shutdown_acknowledged = elapsed < Duration::from_millis(scenario.shutdown_timeout_ms);
    report.telemetry = telemetry
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    Ok(())
}

#[tokio::main]
async fn main() {
    let path = std::env::args().nth(1).expect("usage: constructs-rust-extension-harness <scenario.json>");
    let text = std::fs::read_to_string(&path).expect("cannot read the scenario");
    let scenario: Scenario = serde_json::from_str(&text).expect("invalid scenario");
    let extensions = scenario.extensions.len();
    let grace = Duration::from_millis(scenario.shutdown_timeout_ms);
    let mut report = Report::default();
    let mut children = Vec::new();
    match run(scenario, &mut report, &mut children).await {
        Ok(()) => report.ok = true,
        Err(error) => report.error = Some(error),
    }
    // The simulator counts SHUTDOWN as acknowledged once delivered; let the extensions finish
    // their shutdown work and exit by themselves (as Lambda does until the deadline) before
    // stopping what is left.
    let deadline = Instant::now() + grace;
    let first_extension = children.len().saturating_sub(extensions);
    while Instant::now() < deadline
        && children[first_extension..].iter_mut().any(|c| matches!(c.try_wait(), Ok(None)))
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut codes = stop(&mut children);
    if codes.len() > extensions {
        report.function_exit_code = codes.remove(0);
    }
    report.extension_exit_codes = codes;
    println!("{}", serde_json::to_string(&report).expect("report serializes"));
}
