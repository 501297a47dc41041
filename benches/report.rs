//! Rendering every report output of a 10-minute run sampled at 100 Hz: three containers, 60,000
//! samples each (synthetic data with the real files' formats).
//!
//! `cargo bench -p limitcheck-benches --bench report`

use std::fmt::Write;

use criterion::{criterion_group, criterion_main, Criterion};

fn long_run() -> tempfile_dir::Dir {
    let dir = tempfile_dir::Dir::new();
    let containers = ["a", "b", "c"];
    let expectations: Vec<_> = containers
        .iter()
        .map(|c| {
            serde_json::json!({"metric": "cpu.usage", "container": c, "window": [10.0, 590.0],
                "expected": 0.5, "tolerance": {"relative": 0.05}, "min": null, "max": null,
                "measured": 0.5, "settled_after_s": null, "verdict": "pass", "reason": "measured 0.500"})
        })
        .collect();
    let summary = serde_json::json!({
        "schema": 1, "run_id": "bench", "host": {"kernel": "x", "cgroup_mode": "hybrid", "cpus": 2,
        "memory_bytes": 1, "limitcheck_version": "0"},
        "scenarios": [{"name": "long", "file": "long.toml", "description": "", "verdict": "pass",
            "reason": "", "interval_s": 0.01, "duration_s": 600.0, "samples": 180000,
            "jitter_ms": [0.1, 1.0], "containers": containers, "expectations": expectations,
            "steps": [{"at": 300.0, "actual": 300.0, "container": "a", "what": "set cpu quota 50000/100000 µs",
                "via": "file", "expected": "ok", "outcome": "ok", "verdict": "pass"}]}]
    });
    std::fs::write(dir.path().join("summary.json"), summary.to_string()).unwrap();
    let mut csv = String::from("scenario,container,t_s,jitter_ms,cpu_ns,nr_periods,nr_throttled,throttled_ns,memory_bytes,working_set_bytes,peak_bytes,oom_kills,failcnt,pids,bogo_ops,respawns,failed_forks\n");
    for i in 0..60_000u64 {
        let t = i as f64 * 0.01;
        for (k, c) in containers.iter().enumerate() {
            let cpu = (t * 0.5e9) as u64 + (i % 13) * 100_000;
            let mem = (200u64 << 20) + ((i * (k as u64 + 1)) % 1000) * 4096;
            writeln!(
                csv,
                "long,{c},{t:.4},0.1,{cpu},{},{},0,{mem},{mem},{mem},0,0,3,{i},0,",
                i / 10,
                i / 20
            )
            .unwrap();
        }
    }
    std::fs::write(dir.path().join("samples.csv"), csv).unwrap();
    dir
}

fn render(c: &mut Criterion) {
    let dir = long_run();
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    g.bench_function(
        "render a 10-minute 100 Hz run of 3 containers (all outputs)",
        |b| b.iter(|| limitcheck_report::render(dir.path()).unwrap()),
    );
    g.finish();
}

/// A temporary directory removed on drop (no extra dependency for the bench).
mod tempfile_dir {
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let p = std::env::temp_dir().join(format!("lc-report-bench-{}", std::process::id()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
