//! The kernel's health around a scenario: a kernel that taints, or prints a WARN, a BUG or an
//! Oops while a scenario runs fails that scenario, whatever its measurements say.
//!
//! [`KernelWatch::start`] notes `/proc/sys/kernel/tainted` and the end of `/dev/kmsg`;
//! [`KernelWatch::finish`] reads what the kernel logged since and the taint bits gained. Both
//! need root; without them the watch sees nothing and says so in [`KernelWatch::blind`].

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

/// The taint letters, bit 0 first, as the kernel prints them.
const TAINT_LETTERS: &[u8] = b"PFSRMBUDAWCIOELKXTNJ";

/// The letters of the taint bits set in `v`: `W` for a warning, `D` for an Oops, ...
pub fn taint_letters(v: u64) -> String {
    (0..TAINT_LETTERS.len())
        .filter(|b| v & (1 << b) != 0)
        .map(|b| TAINT_LETTERS[b] as char)
        .collect()
}

/// True for a kernel log message that says something went wrong in the kernel (an OOM kill's
/// stack dump is not one).
pub fn is_problem(msg: &str) -> bool {
    msg.starts_with("WARNING: ")
        || msg.contains("BUG: ")
        || msg.starts_with("kernel BUG at ")
        || msg.starts_with("Oops: ")
        || msg.contains("general protection fault")
        || msg.starts_with("UBSAN: ")
}

fn tainted() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/kernel/tainted")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// Writes a line into the kernel's log (`/dev/kmsg`), e.g. a scenario's begin and end
/// markers, so a console log shows what ran when. Best effort.
pub fn mark(line: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open("/dev/kmsg") {
        let _ = f.write_all(line.as_bytes());
    }
}

/// A watch on the kernel over one scenario.
pub struct KernelWatch {
    taint: Option<u64>,
    kmsg: Option<std::fs::File>,
}

impl KernelWatch {
    /// Starts watching: notes the taint and skips the log so far.
    pub fn start() -> KernelWatch {
        let kmsg = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .ok()
            .and_then(|f| {
                use std::os::fd::AsRawFd;
                // SAFETY: lseek on an fd we own.
                let r = unsafe { libc::lseek(f.as_raw_fd(), 0, libc::SEEK_END) };
                (r >= 0).then_some(f)
            });
        KernelWatch {
            taint: tainted(),
            kmsg,
        }
    }

    /// True when neither the taint nor the log can be read (not root).
    pub fn blind(&self) -> bool {
        self.taint.is_none() && self.kmsg.is_none()
    }

    /// What went wrong in the kernel since [`KernelWatch::start`]: taint bits gained and the
    /// problem lines it logged. Empty when all is well.
    pub fn finish(self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(mut f) = self.kmsg {
            let mut buf = vec![0u8; 8192];
            let mut lines = 0;
            loop {
                match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        // "pri,seq,usec,flags;message\n" then continuation lines.
                        let rec = String::from_utf8_lossy(&buf[..n]);
                        let msg = rec
                            .lines()
                            .next()
                            .and_then(|l| l.split_once(';'))
                            .map(|(_, m)| m.trim_end().to_string())
                            .unwrap_or_default();
                        if is_problem(&msg) && lines < 5 {
                            out.push(format!("kernel log: {msg}"));
                            lines += 1;
                        }
                    }
                    // EPIPE: records were overwritten before we read them; go on.
                    Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                    Err(_) => break, // EAGAIN: the end.
                }
            }
        }
        if let (Some(before), Some(after)) = (self.taint, tainted()) {
            let gained = after & !before;
            if gained != 0 {
                out.push(format!(
                    "the kernel became tainted: {} (/proc/sys/kernel/tainted {before} -> {after})",
                    taint_letters(gained)
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taint_letters_follow_the_kernel() {
        assert_eq!(taint_letters(0), "");
        assert_eq!(taint_letters(1 << 9), "W");
        assert_eq!(taint_letters((1 << 7) | (1 << 12)), "DO");
    }

    #[test]
    fn problem_lines_are_recognised_and_oom_reports_are_not() {
        assert!(is_problem(
            "WARNING: CPU: 0 PID: 1 at kernel/cgroup/cgroup.c:1 x"
        ));
        assert!(is_problem(
            "BUG: kernel NULL pointer dereference, address: 0"
        ));
        assert!(is_problem("Oops: 0000 [#1] PREEMPT SMP"));
        assert!(!is_problem("limitcheck invoked oom-killer: gfp_mask=0xcc0"));
        assert!(!is_problem(
            "Memory cgroup out of memory: Killed process 12"
        ));
    }

    #[test]
    fn a_quiet_stretch_of_kernel_life_has_no_problems() {
        let w = KernelWatch::start();
        if w.blind() {
            eprintln!("skipped: /proc/sys/kernel/tainted and /dev/kmsg unreadable (not root)");
            return;
        }
        // Something harmless in the log; taint unchanged.
        mark("limitcheck: kernel watch self-test\n");
        assert_eq!(w.finish(), Vec::<String>::new());
    }
}
