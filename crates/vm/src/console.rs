//! Reading the guest's console log: did the kernel panic, and did it print a WARN, a BUG or an
//! Oops, and during which scenario.
//!
//! The guest writes `limitcheck: begin <scenario>` and `limitcheck: end <scenario>` to
//! `/dev/kmsg`, so the markers sit in the kernel's own log, in order with its messages.

/// The prefix of the guest's progress lines on the console (printed by the guest program, not
/// the kernel).
pub const PROGRESS: &str = "LC| ";

/// A kernel problem seen on the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The scenario running when it was printed (None: during boot or between scenarios).
    pub scenario: Option<String>,
    /// The console line.
    pub line: String,
}

/// What the console showed.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// The panic line (`Kernel panic - not syncing: ...`), if the kernel panicked.
    pub panic: Option<String>,
    /// WARN, BUG, Oops and general protection faults, in order.
    pub problems: Vec<Problem>,
    /// The scenarios the guest began (from the markers).
    pub begun: Vec<String>,
}

/// The message part of a console line (after the `[   1.234567] ` timestamp, if any).
fn message(line: &str) -> &str {
    let l = line.trim_start_matches(['\r', '\n']);
    if l.starts_with('[') {
        if let Some(i) = l.find("] ") {
            return &l[i + 2..];
        }
    }
    l
}

pub use limitcheck_scenario::kernel::is_problem;

/// Splits a console line where a kernel message (`[   12.345678] ...`) starts inside it: the
/// kernel writes its messages to the serial console whole, but in the middle of whatever a
/// program was writing to the same console.
pub fn split_records(line: &str) -> Vec<&str> {
    let b = line.as_bytes();
    let mut cuts = vec![0];
    let mut i = 1;
    while i < b.len() {
        if b[i] == b'[' {
            let mut j = i + 1;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            let d0 = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > d0 && j < b.len() && b[j] == b'.' {
                let f0 = j + 1;
                j += 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j > f0 && j < b.len() && b[j] == b']' {
                    cuts.push(i);
                }
            }
        }
        i += 1;
    }
    cuts.push(b.len());
    cuts.windows(2)
        .map(|w| &line[w[0]..w[1]])
        .filter(|s| !s.is_empty())
        .collect()
}

/// Scans a console log.
pub fn scan(text: &str) -> Findings {
    let mut f = Findings::default();
    let mut current: Option<String> = None;
    for line in text.lines().flat_map(split_records) {
        let msg = message(line).trim_end();
        if let Some(name) = msg.strip_prefix("limitcheck: begin ") {
            current = Some(name.to_string());
            f.begun.push(name.to_string());
        } else if msg.starts_with("limitcheck: end ") {
            current = None;
        } else if msg.starts_with("Kernel panic - not syncing") {
            f.panic.get_or_insert_with(|| msg.to_string());
        } else if is_problem(msg) {
            f.problems.push(Problem {
                scenario: current.clone(),
                line: msg.to_string(),
            });
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
[    0.000000] Linux version 6.1.0-56-amd64
[    2.100000] Run /init as init process
[    3.000000] limitcheck: begin seed-1
[    4.000000] limitcheck invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0
[    4.000001] CPU: 1 PID: 99 Comm: limitcheck Not tainted 6.1.0-56-amd64 #1
[    4.000002] Call Trace:
[    5.000000] ------------[ cut here ]------------
[    5.000001] WARNING: CPU: 0 PID: 12 at mm/page_alloc.c:5000 foo+0x1/0x2
[    6.000000] limitcheck: end seed-1
[    7.000000] BUG: kernel NULL pointer dereference, address: 0000000000000000
[    8.000000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100
";

    #[test]
    fn problems_are_attributed_to_the_scenario_and_oom_reports_are_not_problems() {
        let f = scan(LOG);
        assert_eq!(f.begun, vec!["seed-1"]);
        assert_eq!(f.problems.len(), 2, "{:?}", f.problems);
        assert_eq!(f.problems[0].scenario.as_deref(), Some("seed-1"));
        assert!(f.problems[0].line.starts_with("WARNING: CPU: 0"));
        assert_eq!(f.problems[1].scenario, None);
        assert_eq!(
            f.panic.as_deref(),
            Some("Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100")
        );
    }

    #[test]
    fn a_kernel_message_inside_a_program_line_is_found() {
        let line =
            "LC| RUN  seed-2 (12.0s): The quota changes [    9.056194] WARNING: CPU: 1 PID: 7 at x";
        assert_eq!(
            split_records(line),
            vec![
                "LC| RUN  seed-2 (12.0s): The quota changes ",
                "[    9.056194] WARNING: CPU: 1 PID: 7 at x"
            ]
        );
        assert_eq!(scan(line).problems.len(), 1);
        assert_eq!(split_records("[1.5] a [x] b"), vec!["[1.5] a [x] b"]);
    }

    #[test]
    fn a_clean_boot_has_no_findings() {
        let f = scan("[    0.0] Linux version 6.1\nLC| RUN seed-1\n");
        assert!(f.panic.is_none() && f.problems.is_empty());
    }
}
