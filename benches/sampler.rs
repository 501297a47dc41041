//! What the scenario sampler costs at its fastest: one container sampled every 1 ms (1 kHz,
//! fast rounds of CPU figures with a full round every 10 ms) for 100 ms, as `limitcheck run`
//! samples it — files kept open, each round appended to the run's journal — measured as the
//! sampler thread's own CPU time (CLOCK_THREAD_CPUTIME_ID). The figure criterion reports is
//! that CPU time per 100 ms of sampling: divide by 100 ms for the share of a core (the
//! target is under 2%: 2 ms). The same at 100 Hz and 200 Hz (every round full) is beside it.
//! Needs root (a real cgroup, with a sleeping process in it); skipped with a message
//! otherwise.
//!
//! `cargo bench -p limitcheck-benches --bench sampler`

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use limitcheck_cgroup::Layout;
use limitcheck_scenario::sample;

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Samples `cg` every `interval` for `span` in a thread of its own; that thread's CPU time.
fn sample_for(
    layout: &Layout,
    name: &str,
    dir: &std::path::Path,
    interval: Duration,
    span: Duration,
) -> Duration {
    let target = sample::Target {
        cgroup: layout.cgroup().name(name).open().unwrap(),
        counters: None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let latest: sample::Latest = Arc::new(std::sync::Mutex::new(vec![[None, None]]));
    let sink = sample::Sink {
        journal: limitcheck_record::Journal::new(dir, "bench", &["c".to_string()]),
        error: Arc::new(std::sync::Mutex::new(None)),
    };
    let stopper = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(span);
            stop.store(true, Ordering::Relaxed);
        })
    };
    let cpu = std::thread::spawn(move || {
        let c0 = thread_cpu();
        let (rows, _) = sample::run(vec![target], Instant::now(), interval, stop, latest, sink);
        assert!(!rows.is_empty());
        thread_cpu() - c0
    })
    .join()
    .unwrap();
    stopper.join().unwrap();
    for f in limitcheck_record::JOURNAL_FILES {
        let _ = std::fs::remove_file(dir.join(f));
    }
    cpu
}

/// The CPU time of a thread that does nothing but sleep to each `interval` for `span`.
fn sleep_only(interval: Duration, span: Duration) -> Duration {
    std::thread::spawn(move || {
        let c0 = thread_cpu();
        let t0 = Instant::now();
        let mut k = 1;
        while t0.elapsed() < span {
            let due = t0 + interval * k;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            k += 1;
        }
        thread_cpu() - c0
    })
    .join()
    .unwrap()
}

fn sampler(c: &mut Criterion) {
    let layout = match Layout::detect() {
        Ok(l) if limitcheck_cgroup::nix::unistd::geteuid().is_root() => l,
        _ => {
            eprintln!("sampler benchmarks skipped: need root and a cgroup filesystem");
            return;
        }
    };
    let cg = layout.cgroup().create().expect("create a bench cgroup");
    let mut sleeper = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap();
    cg.add_pid(sleeper.id() as i32).unwrap();
    let name = cg
        .relative_path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let dir = std::env::temp_dir().join(format!("lc-bench-sampler-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Its parts: the host's figures, a full sample of the container, a fast one.
    let target = sample::Target {
        cgroup: layout.cgroup().name(&name).open().unwrap(),
        counters: None,
    };
    c.bench_function("host::read (a full round's host figures)", |b| {
        b.iter(|| limitcheck_scenario::host::read(0.0))
    });
    limitcheck_cgroup::fs::with_open_files(|| {
        c.bench_function("sample::read (a full sample)", |b| {
            b.iter(|| sample::read(&target, 0, 0.0, 0.0))
        });
        c.bench_function("sample::read_cpu (a fast sample)", |b| {
            b.iter(|| sample::read_cpu(&target, 0, 0.0, 0.0))
        });
    });
    let span = Duration::from_millis(100);
    let mut g = c.benchmark_group("sampler CPU time per 100 ms of sampling one container");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(200));
    for (label, interval) in [
        ("1 ms (1 kHz)", Duration::from_millis(1)),
        ("5 ms (200 Hz)", Duration::from_millis(5)),
        ("10 ms (100 Hz)", Duration::from_millis(10)),
    ] {
        g.bench_function(label, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| sample_for(&layout, &name, &dir, interval, span))
                    .sum()
            })
        });
    }
    g.finish();
    // The plain figures, over longer runs, alternating: the share of a core at 1 kHz, beside
    // the floor any 1 kHz sampler pays here: a thread that only sleeps to the next
    // millisecond (its wake and context switch; 15-30 us a wake on this VM type).
    let long = Duration::from_secs(2);
    for _ in 0..2 {
        let cpu = sample_for(&layout, &name, &dir, Duration::from_millis(1), long);
        let floor = sleep_only(Duration::from_millis(1), long);
        eprintln!(
            "sampler at 1 kHz, one container, {long:?}: {:.2}% of a core; a thread that only \
             sleeps to each millisecond: {:.2}%",
            cpu.as_secs_f64() / long.as_secs_f64() * 100.0,
            floor.as_secs_f64() / long.as_secs_f64() * 100.0
        );
    }
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let _ = std::fs::remove_dir_all(&dir);
    cg.destroy().expect("remove the bench cgroup");
}

criterion_group!(benches, sampler);
criterion_main!(benches);
