//! KCIDB (KernelCI's common results database) I/O schema v5 JSON: what `limitcheck report
//! --kcidb` writes for `kcidb-submit`.
//!
//! A test per scenario, path `limitcheck.<scenario>`, and one per case ([`crate::cases`]),
//! `limitcheck.<scenario>.<case>` (`limitcheck.cpu_halving.cpu_usage_2s_6s`), with the
//! measured value as `number` (bytes as unit `B` with the binary prefix), what was expected
//! and measured as `comment`, why as `log_excerpt`. Verdicts map to statuses so:
//!
//! | verdict | status | why |
//! |---|---|---|
//! | pass | PASS | |
//! | fail | FAIL | "reported the tested code as faulty": a limit not enforced |
//! | error | ERROR | "didn't complete due to a failure in its code": a bad scenario, a dead workload |
//! | inconclusive | DONE | "completed and had not reported the status of the tested code, but produced a measurement" |
//! | skip | SKIP | "not applicable" |
//! | (planned, not run) | MISS | "didn't run due to a failure in the test harness" |
//!
//! The tests belong to the build `--build-id` names (the CI system's own build of the kernel);
//! without one, a checkout and a build of the kernel that ran are written too, so that the
//! file stands alone.

use serde_json::{json, Map, Value};

use crate::cases::{self, slug};
use crate::model::{Summary, Verdict};

/// The schema version written.
pub const VERSION: (u32, u32) = (5, 3);

/// The most `log_excerpt` may hold (the schema's maxLength).
pub const LOG_EXCERPT_MAX: usize = 16384;

/// Where the results go.
#[derive(Debug, Clone)]
pub struct Options {
    /// The submitting CI system (`origin`): lowercase letters, digits and `_`.
    pub origin: String,
    /// The build tested, `origin:id` as the CI system that built it named it; None: a checkout
    /// and build of the kernel that ran are made up from the run.
    pub build_id: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            origin: "limitcheck".into(),
            build_id: None,
        }
    }
}

/// What is wrong with the options, in words naming the flag.
pub fn check(o: &Options) -> Result<(), String> {
    if o.origin.is_empty()
        || !o
            .origin
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "--origin {:?}: KCIDB takes lowercase letters, digits and _ (e.g. my_ci)",
            o.origin
        ));
    }
    if let Some(b) = &o.build_id {
        let ok = b.split_once(':').is_some_and(|(origin, _)| {
            !origin.is_empty()
                && origin
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
        if !ok || b.contains('\0') {
            return Err(format!(
                "--build-id {b:?}: KCIDB ids are ORIGIN:ID, the origin in lowercase letters, digits \
                 and _ (e.g. kernelci:build-1234)"
            ));
        }
    }
    Ok(())
}

fn status(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Error => "ERROR",
        Verdict::Inconclusive => "DONE",
        Verdict::Skip => "SKIP",
    }
}

fn excerpt(s: &str) -> String {
    if s.len() <= LOG_EXCERPT_MAX {
        return s.to_string();
    }
    let mut end = LOG_EXCERPT_MAX - 3;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn number(value: f64, unit: &str) -> Value {
    match unit {
        "bytes" => json!({"value": value, "unit": "B", "prefix": "binary"}),
        "" => json!({ "value": value }),
        u => json!({"value": value, "unit": u}),
    }
}

/// The run as a KCIDB v5 document.
pub fn render(s: &Summary, o: &Options) -> Value {
    let origin = &o.origin;
    let run = slug(&s.run_id);
    let build_id = o
        .build_id
        .clone()
        .unwrap_or_else(|| format!("{origin}:{run}"));
    let environment = json!({
        "comment": format!(
            "kernel {}, cgroup {}, {} CPU(s), {:.1} GiB{}",
            s.host.kernel,
            s.host.cgroup_mode,
            s.host.cpus,
            s.host.memory_bytes as f64 / (1u64 << 30) as f64,
            s.vm.as_ref().map_or(String::new(), |v| format!(", in a VM ({})", v.accel))
        ),
        "misc": {
            "kernel": s.host.kernel,
            "cgroup_mode": s.host.cgroup_mode,
            "cpus": s.host.cpus,
            "memory_bytes": s.host.memory_bytes,
            "runtime": s.host.runtime,
            "limitcheck_version": s.host.limitcheck_version,
        },
    });
    let mut tests = Vec::new();
    let mut test = |path: String, st: &str, fields: Map<String, Value>| {
        let mut t = Map::new();
        t.insert(
            "id".into(),
            json!(format!("{origin}:{run}.{}", path.replace('.', "_"))),
        );
        t.insert("origin".into(), json!(origin));
        t.insert("build_id".into(), json!(build_id));
        t.insert("path".into(), json!(path));
        t.insert("status".into(), json!(st));
        t.insert("environment".into(), environment.clone());
        t.extend(fields);
        tests.push(Value::Object(t));
    };
    for sc in &s.scenarios {
        let base = format!("limitcheck.{}", slug(&sc.name));
        let mut f = Map::new();
        f.insert("duration".into(), json!(sc.duration_s));
        if !sc.description.is_empty() {
            f.insert("comment".into(), json!(sc.description));
        }
        if !sc.reason.is_empty() {
            f.insert("log_excerpt".into(), json!(excerpt(&sc.reason)));
        }
        f.insert(
            "misc".into(),
            json!({"verdict": sc.verdict.as_str(), "file": sc.file, "attempts": sc.attempts.len().max(1), "run_id": s.run_id}),
        );
        test(base.clone(), status(sc.verdict), f);
        for c in cases::of(sc) {
            let mut f = Map::new();
            f.insert("comment".into(), json!(c.detail));
            if !c.reason.is_empty() {
                f.insert("log_excerpt".into(), json!(excerpt(&c.reason)));
            }
            if let Some(m) = c.measured.filter(|m| m.is_finite()) {
                f.insert("number".into(), number(m, c.unit));
            }
            f.insert(
                "misc".into(),
                json!({"verdict": c.verdict.as_str(), "title": c.title}),
            );
            test(format!("{base}.{}", c.id), status(c.verdict), f);
        }
    }
    for name in crate::ktap::not_run(s) {
        let mut f = Map::new();
        f.insert(
            "log_excerpt".into(),
            json!(excerpt(
                &s.interrupted_text()
                    .map_or("not run".to_string(), |t| format!(
                        "not run: the run was {t}"
                    ))
            )),
        );
        test(format!("limitcheck.{}", slug(&name)), "MISS", f);
    }
    let mut doc = json!({
        "version": {"major": VERSION.0, "minor": VERSION.1},
        "tests": tests,
    });
    if o.build_id.is_none() {
        let checkout = format!("{origin}:{run}");
        doc["checkouts"] = json!([{
            "id": checkout,
            "origin": origin,
            "comment": format!("the kernel limitcheck ran on: {} (uname -r)", s.host.kernel),
        }]);
        doc["builds"] = json!([{
            "id": build_id,
            "origin": origin,
            "checkout_id": checkout,
            "architecture": std::env::consts::ARCH,
            "comment": format!("kernel {}, as booted", s.host.kernel),
            "status": "PASS",
        }]);
    }
    doc
}
