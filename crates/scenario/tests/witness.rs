//! The stall witness against the real scheduler: a CPU taken by a higher real-time priority
//! for 80 ms runs nothing else, which is what a stopped vCPU looks like from inside.

use std::time::{Duration, Instant};

use limitcheck_scenario::witness::Witness;

/// Pins the calling thread to `cpu` at SCHED_FIFO `prio`.
fn pin_fifo(cpu: usize, prio: i32) -> std::io::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).map_err(std::io::Error::other)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(std::io::Error::other)?;
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: the calling thread, a valid sched_param.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[test]
fn a_cpu_taken_from_everything_for_80_ms_is_seen_stalled() {
    const TEST: &str = "witness";
    if !nix::unistd::geteuid().is_root() {
        limitcheck_testkit::skip(TEST, "needs root for real-time priority");
        return;
    }
    let t0 = Instant::now();
    let w = Witness::start();
    std::thread::sleep(Duration::from_millis(100));
    // CPU 0 spins at a priority above the witness's for 80 ms.
    let hog = std::thread::spawn(move || -> std::io::Result<(f64, f64)> {
        pin_fifo(0, 2)?;
        let from = t0.elapsed().as_secs_f64();
        let until = Instant::now() + Duration::from_millis(80);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        Ok((from, t0.elapsed().as_secs_f64()))
    });
    let spun = hog.join().expect("the hog panicked");
    std::thread::sleep(Duration::from_millis(50));
    let seen = w.finish(t0);
    let (from, to) = match (spun, &seen.unavailable) {
        (Ok(x), None) => x,
        (spun, why) => {
            // A v1 cpu controller with RT group scheduling and no real-time budget for
            // this cgroup refuses SCHED_FIFO: neither can run here.
            limitcheck_testkit::skip(
                TEST,
                &format!("real-time priority refused here: {spun:?}, witness: {why:?}"),
            );
            return;
        }
    };
    assert!(
        seen.stalls
            .iter()
            .filter(|s| s.cpu == 0)
            .any(|s| s.from <= from + 0.006 && s.to >= to - 0.001 && s.to - s.from >= 0.075),
        "CPU 0 spun at a higher priority over {from:.3}-{to:.3}s: {:?}",
        seen.stalls
    );
}
