//! Running many scenario files: collecting them, running each in turn, and the exit status.

use std::path::{Path, PathBuf};

use limitcheck_cgroup::Layout;

use crate::error::RunError;
use crate::kernel;
use crate::model::{self, ScenarioError};
use crate::runner::{self, HostInfo, RunOptions, ScenarioResult, Summary};
use crate::verdict::Verdict;

/// The `.toml` files named, directories expanded (sorted), in order.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| ScenarioError {
                    file: p.display().to_string(),
                    line: None,
                    key: "(directory)".into(),
                    reason: format!("cannot list it: {e}"),
                })?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            out.extend(files);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(ScenarioError {
                file: p.display().to_string(),
                line: None,
                key: "(file)".into(),
                reason: "no such file or directory".into(),
            });
        }
    }
    if out.is_empty() {
        return Err(ScenarioError {
            file: paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
            line: None,
            key: "(files)".into(),
            reason: "no .toml scenario found".into(),
        });
    }
    Ok(out)
}

/// Checks every file; returns every problem found.
pub fn validate(files: &[PathBuf]) -> Vec<ScenarioError> {
    files.iter().filter_map(|f| model::load(f).err()).collect()
}

/// `run`'s exit status when nothing failed and nothing errored but a scenario stayed
/// inconclusive after its retries: neither 0 (not shown to pass) nor 1 (no limit failed).
pub const EXIT_INCONCLUSIVE: u8 = 6;

/// The exit status of a run: 0 all passed or skipped, 1 a verdict failed, 2 a scenario could not
/// run, 6 ([`EXIT_INCONCLUSIVE`]) a scenario was inconclusive (and none failed or errored).
pub fn exit_code(results: &[ScenarioResult]) -> u8 {
    let any = |v: Verdict| results.iter().any(|r| r.verdict == v);
    if any(Verdict::Fail) {
        1
    } else if any(Verdict::Error) {
        2
    } else if any(Verdict::Inconclusive) {
        EXIT_INCONCLUSIVE
    } else {
        0
    }
}

/// What runs the containers of `o`, in words: `runc version 1.1.5+ds1 (/usr/sbin/runc)`.
fn runtime_text(o: &RunOptions) -> String {
    match (&o.engine, &o.runtime) {
        (Some(e), _) => e.version().unwrap_or_else(|err| err.to_string()),
        (None, None) => "lcrun (library)".to_string(),
        (None, Some(rt)) => format!(
            "{} ({})",
            rt.version().unwrap_or_else(|e| e.to_string()),
            rt.program.display()
        ),
    }
}

/// The options a scenario with its own `runtime = "…"` runs with: `None` for the run's own
/// (no key, or the key names the run's lane); when the command line named the lanes, a
/// scenario about another is a skip in this one; else its runtime, if it can run a container
/// here (probed with `true`), else a skip in its words.
fn own_lane(s: &model::Scenario, o: &RunOptions) -> Result<Option<RunOptions>, String> {
    let Some(want) = s.runtime.as_deref() else {
        return Ok(None);
    };
    if want == o.lane {
        return Ok(None);
    }
    if o.lanes_chosen {
        return Err(format!(
            "the scenario is about {want} (runtime = \"{want}\"); this run's lane is {}",
            o.lane
        ));
    }
    let lane = crate::lane::Lane::named(want, &o.runtime_root, &o.exe)
        .map_err(|e| format!("runtime = \"{want}\": {e}"))?;
    let p = RunOptions {
        runtime: lane.runtime,
        engine: lane.engine,
        lane: lane.label,
        ..o.clone()
    };
    limitcheck_runtime::oci_cli::become_subreaper();
    runner::probe_runtime(&p).map_err(|why| {
        format!("runtime = \"{want}\": it cannot run a container on this host: {why}")
    })?;
    Ok(Some(p))
}

/// How many scenarios ended in each verdict, the ones that did: `9 pass, 1 inconclusive`.
pub fn tally(results: &[ScenarioResult]) -> String {
    let parts: Vec<String> = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Error,
        Verdict::Inconclusive,
        Verdict::Skip,
    ]
    .into_iter()
    .filter_map(|v| {
        let n = results.iter().filter(|r| r.verdict == v).count();
        (n > 0).then(|| format!("{n} {v}"))
    })
    .collect();
    if parts.is_empty() {
        "no scenario ran".into()
    } else {
        parts.join(", ")
    }
}

/// The word a verdict is printed as in the progress lines.
pub fn word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Skip => "SKIP",
        Verdict::Error => "ERR ",
        Verdict::Inconclusive => "INCONCLUSIVE",
    }
}

/// Loads and runs every file in turn, writing summary.json and samples.csv into the run
/// directory after each scenario (so an interrupted run keeps what it measured), then calls
/// `after_each` with the summary so far (the VM guest streams it out). `progress` receives
/// one line per event.
pub fn run_all<'l>(
    files: &[PathBuf],
    o: &RunOptions,
    version: &str,
    progress: &mut dyn FnMut(&str),
    mut live: Option<&mut (dyn FnMut(&str) + 'l)>,
    after_each: &mut dyn FnMut(&Summary),
) -> Result<Summary, RunError> {
    let layout = Layout::detect()?;
    let save = |s: &Summary| limitcheck_record::write_run(&o.run_dir, s);
    // When no samples were added since the last save: summary.json alone.
    let mark = |s: &Summary| limitcheck_record::write_summary(&o.run_dir, s);
    // Scenarios are loaded first: a broken file stops the run before anything starts.
    let scenarios = files
        .iter()
        .map(|f| model::load(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mut summary = Summary {
        schema: limitcheck_record::SCHEMA,
        run_id: o.run_id.clone(),
        host: HostInfo {
            runtime: Some(runtime_text(o)),
            ..runner::gather_host(&layout, version)
        },
        vm: None,
        scenarios: Vec::new(),
        planned: scenarios.iter().map(|s| s.name.clone()).collect(),
        complete: false,
        running: None,
    };
    // Written at once: a run killed in its first scenario still leaves a summary saying so.
    save(&summary)?;
    // Another runtime is tried on a container that runs `true` first: one that cannot run a
    // container here (crun 1.8 on a hybrid host) makes every scenario a skip, with its words.
    let flag = match (&o.engine, &o.runtime) {
        (Some(e), _) => Some(format!("--engine {}", e.kind)),
        (None, Some(rt)) => Some(format!("--runtime {}", rt.program.display())),
        (None, None) => None,
    };
    let unusable = flag.and_then(|flag| {
        limitcheck_runtime::oci_cli::become_subreaper();
        runner::probe_runtime(o).err().map(|why| {
            let why = format!("{flag}: it cannot run a container on this host: {why}");
            progress(&format!("SKIP every scenario: {why}"));
            why
        })
    });
    for s in &scenarios {
        if o.stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        progress(&format!(
            "RUN  {} ({:.1}s, {}): {}",
            s.name,
            s.duration.as_secs_f64(),
            s.file.display(),
            s.description
        ));
        // An inconclusive scenario (starved by the host) runs again after a pause, up to
        // `retries` times; a failed one never does. Every attempt is kept.
        let mut earlier: Vec<runner::Attempt> = Vec::new();
        // A scenario about one runtime (`runtime = "runc"`) runs on it.
        let own = match &unusable {
            Some(why) => Err(why.clone()),
            None => own_lane(s, o),
        };
        let so = match &own {
            Ok(Some(p)) => p,
            _ => o,
        };
        let mut r = loop {
            if let Err(why) = &own {
                let mut r = runner::skeleton(s);
                r.verdict = Verdict::Skip;
                r.reason = why.clone();
                break r;
            }
            // Named as running (its samples go to the journal): a kill now leaves a record
            // that says which scenario it cut short, with what it measured.
            summary.running = Some(runner::skeleton(s));
            mark(&summary)?;
            let watch = kernel::KernelWatch::start();
            if o.kmsg_markers {
                kernel::mark(&format!("limitcheck: begin {}\n", s.name));
            }
            let mut r = runner::run(s, &layout, so, live.as_deref_mut());
            if let Ok(Some(p)) = &own {
                r.runtime = Some(runtime_text(p));
            }
            if o.kmsg_markers {
                kernel::mark(&format!("limitcheck: end {}\n", s.name));
            }
            judge_kernel(&mut r, watch.finish());
            let stopped = o.stop.load(std::sync::atomic::Ordering::Relaxed);
            if r.verdict != Verdict::Inconclusive || earlier.len() as u32 >= o.retries || stopped {
                break r;
            }
            progress(&format!(
                "INCONCLUSIVE {} (attempt {} of {}): {}; again in {:.0}s",
                r.name,
                earlier.len() + 1,
                o.retries + 1,
                r.reason,
                o.retry_pause.as_secs_f64()
            ));
            earlier.push(r.attempt());
            let until = std::time::Instant::now() + o.retry_pause;
            while std::time::Instant::now() < until
                && !o.stop.load(std::sync::atomic::Ordering::Relaxed)
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        };
        earlier.push(r.attempt());
        r.attempts = earlier;
        let word = word(r.verdict);
        progress(&format!(
            "{word} {}{}",
            r.name,
            if r.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", r.reason)
            }
        ));
        for e in &r.expectations {
            progress(&format!(
                "       {:?} {} {} [{}s, {}s]: {}{}",
                e.verdict,
                e.metric,
                e.container,
                e.window[0],
                e.window[1],
                e.reason,
                e.engine.as_ref().map_or(String::new(), |v| format!(
                    "; {} {} ({} reading(s)){}",
                    v.source,
                    e.show(v.value),
                    v.readings,
                    if v.agrees {
                        ""
                    } else {
                        ": DISAGREES with the kernel's counters (a finding about the engine)"
                    }
                ))
            ));
        }
        for st in &r.steps {
            progress(&format!(
                "       {:?} step {}s {} ({}): {} (expected {})",
                st.verdict,
                st.at,
                st.what,
                st.container,
                st.outcome.clone().unwrap_or_else(|| "skipped".into()),
                st.expected
            ));
        }
        summary.running = None;
        summary.scenarios.push(r);
        save(&summary)?;
        after_each(&summary);
    }
    // Only a run that got through every scenario is marked finished.
    if !o.stop.load(std::sync::atomic::Ordering::Relaxed) {
        summary.complete = true;
        mark(&summary)?;
        after_each(&summary);
    }
    Ok(summary)
}

/// A kernel that tainted or logged a WARN, BUG or Oops during the scenario fails it: the
/// problems become a failed `kernel.health` expectation.
fn judge_kernel(r: &mut ScenarioResult, problems: Vec<String>) {
    if problems.is_empty() {
        return;
    }
    let reason = problems.join("; ");
    r.expectations.push(crate::verdict::ExpectResult {
        metric: "kernel.health".into(),
        container: "(kernel)".into(),
        window: [0.0, r.duration_s],
        expected: None,
        tolerance: None,
        min: None,
        max: None,
        measured: None,
        settled_after_s: None,
        verdict: Verdict::Fail,
        reason: reason.clone(),
        context: None,
        engine: None,
        only: None,
    });
    if r.verdict != Verdict::Error {
        r.verdict = Verdict::Fail;
        r.reason = format!("kernel problem: {reason}");
    }
}

/// A run id from the current time and this process: `20261128T030012-4242` (two runs started
/// in the same second differ; their containers are `lcr-<run-id>-...`).
pub fn run_id() -> String {
    let t: String = limitcheck_runtime::state::now_rfc3339()
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    format!("{t}-{}", std::process::id())
}

/// Where a run goes by default: `reports/<run-id>`.
pub fn default_run_dir(id: &str) -> PathBuf {
    Path::new("reports").join(id)
}

/// `'text'`, for sh (plain words as they are).
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Writes `dir/reproduce.sh`, which reruns this run: `exe` (or `$LIMITCHECK`) with `args`
/// (the verb and its flags, as given, without the report directory; an argument
/// `@here/NAME` is the file `extra` copied beside the script as NAME), on copies of the
/// scenario files `files` put in `dir/scenarios/` (so that later edits of the originals do not
/// change what reruns), and `facts` (the kernel, cgroup layout, CPUs, runtime the run was made
/// on) in its comments. It warns when the kernel it runs on is not `kernel` (when given).
pub fn write_reproducer(
    dir: &Path,
    exe: &Path,
    args: &[String],
    extra: &[(PathBuf, String)],
    files: &[PathBuf],
    kernel: Option<&str>,
    facts: &[String],
) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    for (src, name) in extra {
        std::fs::copy(src, dir.join(name))?;
    }
    let sdir = dir.join("scenarios");
    std::fs::create_dir_all(&sdir)?;
    let mut copies = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("{i}.toml"));
        let name = if copies
            .iter()
            .any(|c: &String| c.ends_with(&format!("/{name}")))
        {
            format!("{}-{name}", i + 1)
        } else {
            name
        };
        std::fs::copy(f, sdir.join(&name))?;
        copies.push(format!("\"$here\"/scenarios/{}", sh_quote(&name)));
    }
    let mut text = String::from("#!/bin/sh\n# Reruns this limitcheck run (as root), into a new run directory under reports/.\n");
    for f in facts {
        text.push_str(&format!("# {f}\n"));
    }
    text.push_str(
        "# The scenario files are the copies in scenarios/ beside this script, as they were.\n",
    );
    text.push_str("here=$(cd \"$(dirname \"$0\")\" && pwd)\n");
    if let Some(k) = kernel {
        text.push_str(&format!(
            "[ \"$(uname -r)\" = {k} ] || echo \"reproduce.sh: this run was made on kernel \"{k}\"; this is $(uname -r)\" >&2\n",
            k = sh_quote(k)
        ));
    }
    text.push_str(&format!(
        "bin=${{LIMITCHECK:-{}}}\n",
        sh_quote(&exe.display().to_string())
    ));
    let argv: Vec<String> = args
        .iter()
        .map(|a| match a.strip_prefix("@here/") {
            Some(name) => format!("\"$here\"/{}", sh_quote(name)),
            None => sh_quote(a),
        })
        .collect();
    text.push_str(&format!(
        "exec \"$bin\" {} {}\n",
        argv.join(" "),
        copies.join(" ")
    ));
    let path = dir.join("reproduce.sh");
    std::fs::write(&path, text)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}
