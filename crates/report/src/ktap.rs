//! KTAP version 1 (the kernel's Documentation/dev-tools/ktap.rst), for kernel CI: what
//! kselftest's runner, KernelCI and LKFT read.
//!
//! One test per scenario, in the order run, with a nested subtest per judged step and per
//! expectation ([`crate::cases`]); each case's expected and measured values are a diagnostic
//! line just before its result line. Verdicts map to results and directives so:
//!
//! | verdict | KTAP |
//! |---|---|
//! | pass | `ok N name` |
//! | fail (a limit not enforced) | `not ok N name` |
//! | error (could not run or judge: a bad value, a dead workload) | `not ok N name # ERROR why` |
//! | skip (not applicable here) | `ok N name # SKIP why` |
//! | inconclusive (measured short while the host's own load took the CPUs) | `ok N name # SKIP inconclusive: why` |
//!
//! Inconclusive is a SKIP because KTAP has no "undecided": it is not a failure of the limit
//! (so not `not ok`), and not a failure of the harness (so not ERROR, which the spec keeps for
//! a test whose execution failed); SKIP is the one directive that is neither and, as the spec
//! says, does not fail its parent; the diagnostic data says it was inconclusive, with the
//! numbers. The kselftest-style totals line ends the stream, and the exit status follows
//! kselftest ([`exit_code`]).
//!
//! A run of several lanes (runtimes, kernels) nests once more: a test per lane holding its
//! scenarios.

use crate::cases::{self, one_line};
use crate::model::{Scenario, Summary, Verdict};

/// The version line.
pub const VERSION: &str = "KTAP version 1";

/// kselftest's exit statuses (tools/testing/selftests/kselftest.h).
pub const KSFT_PASS: u8 = 0;
/// A test failed.
pub const KSFT_FAIL: u8 = 1;
/// The test was skipped as a whole.
pub const KSFT_SKIP: u8 = 4;

/// Counts of the results at one level, as kselftest's `# Totals:` line gives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// `ok` without a directive.
    pub pass: usize,
    /// `not ok` without a directive.
    pub fail: usize,
    /// `ok … # SKIP` (skips and inconclusive verdicts).
    pub skip: usize,
    /// `not ok … # ERROR`.
    pub error: usize,
}

impl Totals {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Skip | Verdict::Inconclusive => self.skip += 1,
            Verdict::Error => self.error += 1,
        }
    }

    /// `# Totals: pass:3 fail:0 xfail:0 xpass:0 skip:1 error:0` (kselftest.h's format).
    pub fn line(&self) -> String {
        format!(
            "# Totals: pass:{} fail:{} xfail:0 xpass:0 skip:{} error:{}",
            self.pass, self.fail, self.skip, self.error
        )
    }

    /// What these results come to as one verdict (a lane's): any fail, else any error, else a
    /// skip when nothing passed, else a pass.
    pub fn verdict(&self) -> Verdict {
        if self.fail > 0 {
            Verdict::Fail
        } else if self.error > 0 {
            Verdict::Error
        } else if self.pass == 0 {
            Verdict::Skip
        } else {
            Verdict::Pass
        }
    }

    /// Adds another level's counts.
    pub fn merge(&mut self, o: &Totals) {
        self.pass += o.pass;
        self.fail += o.fail;
        self.skip += o.skip;
        self.error += o.error;
    }
}

/// The exit status kselftest reads from these results: 1 (KSFT_FAIL) when anything failed or
/// errored (an error is `not ok` in KTAP, and runner.sh knows no other failing status), else 4
/// (KSFT_SKIP) when nothing passed, else 0 (KSFT_PASS) — a partly skipped run passes, as
/// kselftest.h's `ksft_finished()` has it.
pub fn exit_code(t: &Totals) -> u8 {
    match t.verdict() {
        Verdict::Fail | Verdict::Error => KSFT_FAIL,
        Verdict::Skip => KSFT_SKIP,
        _ => KSFT_PASS,
    }
}

/// A description as KTAP allows it: no `#`, one line.
fn description(s: &str) -> String {
    one_line(s).replace('#', "no.")
}

/// A result line for a verdict, with its directive.
pub fn result(indent: &str, n: usize, name: &str, v: Verdict, why: &str) -> String {
    let name = description(name);
    let why = one_line(why);
    let sep = |w: &str| {
        if w.is_empty() {
            String::new()
        } else {
            format!(" {w}")
        }
    };
    match v {
        Verdict::Pass => format!("{indent}ok {n} {name}\n"),
        Verdict::Fail => format!("{indent}not ok {n} {name}\n"),
        Verdict::Skip => format!("{indent}ok {n} {name} # SKIP{}\n", sep(&why)),
        Verdict::Inconclusive => format!("{indent}ok {n} {name} # SKIP inconclusive: {why}\n"),
        Verdict::Error => format!("{indent}not ok {n} {name} # ERROR{}\n", sep(&why)),
    }
}

/// A diagnostic line.
pub fn diagnostic(indent: &str, text: &str) -> String {
    format!("{indent}# {}\n", one_line(text))
}

/// The KTAP of one level (a run's scenarios, or a lane's), written as results come: the
/// version and plan first ([`Stream::header`]), a block per scenario ([`Stream::scenario`]),
/// and, at the top, the totals ([`Stream::totals_line`]).
#[derive(Debug, Clone)]
pub struct Stream {
    indent: String,
    planned: usize,
    next: usize,
    /// The results so far at this level.
    pub totals: Totals,
}

impl Stream {
    /// A level `depth` deep (0: the top) that plans `planned` tests.
    pub fn new(depth: usize, planned: usize) -> Stream {
        Stream {
            indent: "  ".repeat(depth),
            planned,
            next: 1,
            totals: Totals::default(),
        }
    }

    /// `KTAP version 1` and the plan.
    pub fn header(&self) -> String {
        format!("{0}{VERSION}\n{0}1..{1}\n", self.indent, self.planned)
    }

    /// How many results this level has given.
    pub fn given(&self) -> usize {
        self.next - 1
    }

    /// A scenario's block: its cases as a nested KTAP (when it has any), its reason and
    /// attempts as diagnostics, then its result line.
    pub fn scenario(&mut self, sc: &Scenario) -> String {
        let sub = format!("{}  ", self.indent);
        let mut out = String::new();
        let cases = cases::of(sc);
        if !cases.is_empty() {
            out.push_str(&format!("{sub}{VERSION}\n{sub}1..{}\n", cases.len()));
            for (i, c) in cases.iter().enumerate() {
                out.push_str(&diagnostic(&sub, &c.detail));
                if c.verdict == Verdict::Fail && !c.reason.is_empty() {
                    out.push_str(&diagnostic(&sub, &c.reason));
                }
                out.push_str(&result(&sub, i + 1, &c.id, c.verdict, &c.reason));
            }
        }
        if let Some(t) = sc.attempts_text() {
            out.push_str(&diagnostic(&self.indent, &format!("attempts: {t}")));
        }
        if let Some(r) = &sc.runtime {
            out.push_str(&diagnostic(&self.indent, &format!("runtime: {r}")));
        }
        if sc.verdict == Verdict::Fail && !sc.reason.is_empty() && cases.is_empty() {
            out.push_str(&diagnostic(&self.indent, &sc.reason));
        }
        out.push_str(&self.result(&sc.name, sc.verdict, &sc.reason));
        out
    }

    /// `not ok N name # TIMEOUT why`: a test stopped at a timeout (counted as an error).
    pub fn timeout(&mut self, name: &str, why: &str) -> String {
        let n = self.next;
        self.next += 1;
        self.totals.error += 1;
        format!(
            "{}not ok {n} {} # TIMEOUT {}\n",
            self.indent,
            description(name),
            one_line(why)
        )
    }

    /// A result at this level (a lane's, or a planned scenario that did not run).
    pub fn result(&mut self, name: &str, v: Verdict, why: &str) -> String {
        let n = self.next;
        self.next += 1;
        self.totals.add(v);
        result(&self.indent, n, name, v, why)
    }

    /// The totals line (kselftest prints it at the top level, after the last result).
    pub fn totals_line(&self) -> String {
        format!("{}{}\n", self.indent, self.totals.line())
    }
}

/// The planned scenarios of a run that have no result (it was interrupted, or the guest
/// died): each a SKIP saying so, so that the plan holds.
pub fn not_run(s: &Summary) -> Vec<String> {
    s.planned
        .iter()
        .filter(|p| !s.scenarios.iter().any(|r| &r.name == *p))
        .cloned()
        .collect()
}

/// What became of a lane's planned scenarios that have no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// The run ended early (interrupted) or they were not run: SKIP, saying so.
    NotRun,
    /// The run died (a guest kernel that panicked, qemu that failed): ERROR, saying why.
    Error(String),
    /// The run was stopped at a timeout (a hung guest): the scenario it was in is `# TIMEOUT`,
    /// the rest SKIP, saying why.
    Timeout(String),
}

/// A run's KTAP as it happens: the header at once, each scenario's block as it finishes, a
/// lane's result when its scenarios are done (several lanes: runtimes, kernels, each a test
/// holding its scenarios), the totals at the end. Each method returns the text to write
/// (and flush: a kselftest runner that stops a test at its timeout keeps what came).
#[derive(Debug, Clone)]
pub struct Live {
    top: Stream,
    lane: Option<Stream>,
    lanes: bool,
    per_lane: usize,
    shown: usize,
    all: Totals,
}

impl Live {
    /// A run of `lanes` lanes (`scenarios` scenarios, when it is one), and its header.
    pub fn new(lanes: usize, scenarios: usize) -> (Live, String) {
        let several = lanes > 1;
        let top = Stream::new(0, if several { lanes } else { scenarios });
        let header = top.header();
        (
            Live {
                top,
                lane: None,
                lanes: several,
                per_lane: scenarios,
                shown: 0,
                all: Totals::default(),
            },
            header,
        )
    }

    fn level(&mut self) -> &mut Stream {
        self.lane.as_mut().unwrap_or(&mut self.top)
    }

    /// A lane of `scenarios` scenarios begins (its nested header, when there are several).
    pub fn begin_lane(&mut self, scenarios: usize) -> String {
        self.shown = 0;
        if self.lanes {
            self.per_lane = scenarios;
            let st = Stream::new(1, scenarios);
            let h = st.header();
            self.lane = Some(st);
            h
        } else {
            String::new()
        }
    }

    /// The blocks of the scenarios of `s` not shown yet.
    pub fn results(&mut self, s: &Summary) -> String {
        self.results_ended(s, &Missing::NotRun)
    }

    fn results_ended(&mut self, s: &Summary, ended: &Missing) -> String {
        let mut out = String::new();
        let from = self.shown.min(s.scenarios.len());
        for sc in &s.scenarios[from..] {
            match ended {
                // The scenario the guest hung in is the test that timed out.
                Missing::Timeout(why) if sc.interrupted => {
                    out.push_str(&self.level().timeout(&sc.name, why));
                }
                _ => out.push_str(&self.level().scenario(sc)),
            }
        }
        self.shown = s.scenarios.len();
        out
    }

    /// A diagnostic line at the current level.
    pub fn diagnostic(&mut self, text: &str) -> String {
        diagnostic(&self.level().indent, text)
    }

    /// A result of the current level that is not a scenario (a VM run's `kernel_health`).
    pub fn extra(&mut self, name: &str, v: Verdict, why: &str) -> String {
        self.level().result(name, v, why)
    }

    /// `extra` for a test that timed out.
    pub fn extra_timeout(&mut self, name: &str, why: &str) -> String {
        self.level().timeout(name, why)
    }

    /// The lane `label`, whose run is `s`, is done: what was not shown, a result for each
    /// planned scenario without one (as `ended` says), and, with several lanes, the lane's
    /// result.
    pub fn end_lane(&mut self, label: &str, s: &Summary, ended: &Missing) -> String {
        let mut out = self.results_ended(s, ended);
        let (v, reason) = match (ended, s.interrupted_text()) {
            (Missing::Error(w), _) => (Verdict::Error, format!("not run: {w}")),
            (Missing::Timeout(w), _) => (Verdict::Skip, format!("not run: {w}")),
            (Missing::NotRun, Some(t)) => (Verdict::Skip, format!("not run: the run was {t}")),
            (Missing::NotRun, None) => (Verdict::Skip, "not run".to_string()),
        };
        let mut missing = not_run(s);
        // The plan counts what was meant to run: never more results than that.
        let room = self.per_lane.saturating_sub(self.level().given());
        missing.truncate(room);
        for m in missing {
            out.push_str(&self.level().result(&m, v, &reason));
        }
        let room = self.per_lane.saturating_sub(self.level().given());
        for i in 0..room {
            out.push_str(
                &self
                    .level()
                    .result(&format!("not_run_{}", i + 1), v, &reason),
            );
        }
        if let Some(st) = self.lane.take() {
            out.push_str(&lane_line(&mut self.top, label, &st.totals));
            self.all.merge(&st.totals);
        }
        out
    }

    /// The totals line, and kselftest's exit status for the whole run ([`exit_code`]).
    pub fn finish(&self) -> (String, u8) {
        let t = if self.lanes {
            self.all
        } else {
            self.top.totals
        };
        (self.top.totals_line(), exit_code(&t))
    }
}

/// A whole run as one KTAP document (what `limitcheck report --ktap` prints): the scenarios,
/// then a SKIP for each planned one that did not run, then the totals; and the exit status.
pub fn render(s: &Summary) -> (String, u8) {
    render_lanes(&[(String::new(), s.clone())])
}

/// Several runs (lanes of a matrix: runtimes, kernels) as one KTAP document, a test per lane
/// with its scenarios nested in it (one run: its scenarios at the top).
pub fn render_lanes(lanes: &[(String, Summary)]) -> (String, u8) {
    let count = |s: &Summary| s.scenarios.len() + not_run(s).len();
    let first = lanes.first().map_or(0, |(_, s)| count(s));
    let (mut live, mut out) = Live::new(lanes.len(), first);
    for (label, s) in lanes {
        out.push_str(&live.begin_lane(count(s)));
        out.push_str(&live.end_lane(label, s, &Missing::NotRun));
    }
    let (totals, code) = live.finish();
    out.push_str(&totals);
    (out, code)
}

/// A lane's result line from its scenarios' totals.
pub fn lane_line(top: &mut Stream, label: &str, t: &Totals) -> String {
    let why = match t.verdict() {
        Verdict::Error => format!("{} scenario(s) could not run or be judged", t.error),
        Verdict::Skip => "nothing passed: every scenario skipped or inconclusive".to_string(),
        _ => String::new(),
    };
    // Not a `# Totals:` line, which a reader takes for the top level's own.
    let mut out = diagnostic(
        &top.indent,
        &format!(
            "{label}: pass:{} fail:{} skip:{} error:{}",
            t.pass, t.fail, t.skip, t.error
        ),
    );
    out.push_str(&top.result(label, t.verdict(), &why));
    out
}
