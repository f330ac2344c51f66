//! The extension's state: what it counted so far, and the one-line summary it prints.

use lambda_extension::{LambdaTelemetry, LambdaTelemetryRecord};
use serde_json::{json, Value};

/// Counters over one execution environment's life (cold start to SHUTDOWN).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    /// INVOKE events received from the Extensions API.
    pub invokes: u64,
    /// Lines the function wrote to stdout/stderr (telemetry type `function`).
    pub function_log_lines: u64,
    /// Of those, lines that look like errors (`ERROR` or `panicked` in them).
    pub function_error_lines: u64,
    /// `platform.report` records (one per finished invocation).
    pub reports: u64,
    /// Sum and maximum of the reports' `durationMs`.
    pub total_duration_ms: f64,
    pub max_duration_ms: f64,
    /// Sum of the reports' `billedDurationMs`.
    pub billed_duration_ms: u64,
    /// `initDurationMs` of the cold start, when a report carried it.
    pub init_duration_ms: Option<f64>,
    /// Telemetry records of any other type (initStart, runtimeDone, ...).
    pub other_records: u64,
}

impl Summary {
    pub fn record_invoke(&mut self) {
        self.invokes += 1;
    }

    pub fn record_telemetry(&mut self, event: &LambdaTelemetry) {
        match &event.record {
            LambdaTelemetryRecord::Function(line) => {
                self.function_log_lines += 1;
                if line.contains("ERROR") || line.contains("panicked") {
                    self.function_error_lines += 1;
                }
            }
            LambdaTelemetryRecord::PlatformReport { metrics, .. } => {
                self.reports += 1;
                self.total_duration_ms += metrics.duration_ms;
                self.max_duration_ms = self.max_duration_ms.max(metrics.duration_ms);
                self.billed_duration_ms += metrics.billed_duration_ms;
                if let Some(init) = metrics.init_duration_ms {
                    self.init_duration_ms = Some(init);
                }
            }
            _ => self.other_records += 1,
        }
    }

    /// The line printed at SHUTDOWN (one JSON object, so log tools can parse it).
    pub fn to_json(&self, shutdown_reason: &str) -> Value {
        let mean = if self.reports > 0 {
            self.total_duration_ms / self.reports as f64
        } else {
            0.0
        };
        json!({
            "extension": "telemetry_summary",
            "shutdown_reason": shutdown_reason,
            "invokes": self.invokes,
            "function_log_lines": self.function_log_lines,
            "function_error_lines": self.function_error_lines,
            "reports": self.reports,
            "mean_duration_ms": (mean * 1000.0).round() / 1000.0,
            "max_duration_ms": self.max_duration_ms,
            "billed_duration_ms": self.billed_duration_ms,
            "init_duration_ms": self.init_duration_ms,
            "other_records": self.other_records,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(json: &str) -> Vec<LambdaTelemetry> {
        serde_json::from_str(json).expect("valid Telemetry API batch")
    }

    // Record shapes as documented for the Telemetry API (schema 2022-12-13).
    const BATCH: &str = r#"[
        {"time": "2026-11-29T10:00:00.000Z", "type": "platform.start",
         "record": {"requestId": "r1", "version": "$LATEST"}},
        {"time": "2026-11-29T10:00:00.010Z", "type": "function",
         "record": "INFO echo: handling message"},
        {"time": "2026-11-29T10:00:00.011Z", "type": "function",
         "record": "ERROR echo: something failed"},
        {"time": "2026-11-29T10:00:00.020Z", "type": "platform.report",
         "record": {"requestId": "r1", "status": "success",
                    "metrics": {"durationMs": 2.5, "billedDurationMs": 3, "memorySizeMB": 128,
                                "maxMemoryUsedMB": 20, "initDurationMs": 30.25}}},
        {"time": "2026-11-29T10:00:01.020Z", "type": "platform.report",
         "record": {"requestId": "r2", "status": "success",
                    "metrics": {"durationMs": 1.5, "billedDurationMs": 2, "memorySizeMB": 128,
                                "maxMemoryUsedMB": 20}}}
    ]"#;

    #[test]
    fn counts_lines_reports_and_durations() {
        let mut s = Summary::default();
        for event in batch(BATCH) {
            s.record_telemetry(&event);
        }
        s.record_invoke();
        s.record_invoke();
        assert_eq!(s.invokes, 2);
        assert_eq!(s.function_log_lines, 2);
        assert_eq!(s.function_error_lines, 1);
        assert_eq!(s.reports, 2);
        assert_eq!(s.total_duration_ms, 4.0);
        assert_eq!(s.max_duration_ms, 2.5);
        assert_eq!(s.billed_duration_ms, 5);
        assert_eq!(s.init_duration_ms, Some(30.25));
        assert_eq!(s.other_records, 1);
    }

    #[test]
    fn summary_line_is_json_with_mean() {
        let mut s = Summary::default();
        for event in batch(BATCH) {
            s.record_telemetry(&event);
        }
        let line = s.to_json("spindown");
        assert_eq!(line["shutdown_reason"], "spindown");
        assert_eq!(line["mean_duration_ms"], 2.0);
        assert_eq!(line["reports"], 2);
        assert_eq!(line["init_duration_ms"], 30.25);
    }

    #[test]
    fn empty_summary_has_no_division_by_zero() {
        let line = Summary::default().to_json("timeout");
        assert_eq!(line["mean_duration_ms"], 0.0);
        assert_eq!(line["init_duration_ms"], Value::Null);
        assert_eq!(line["invokes"], 0);
    }

    #[test]
    fn panics_count_as_error_lines() {
        let mut s = Summary::default();
        let events = batch(
            r#"[{"time": "2026-11-29T10:00:00Z", "type": "function",
                 "record": "thread 'main' panicked at src/main.rs:1:1"}]"#,
        );
        s.record_telemetry(&events[0]);
        assert_eq!((s.function_log_lines, s.function_error_lines), (1, 1));
    }
}
