//! Cost of what the sampler does every interval: parse cgroup files, and read a live cgroup's
//! full stats (needs root; skipped with a message otherwise).
//!
//! `cargo bench -p limitcheck-benches --bench cgroup`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use limitcheck_cgroup::{parse, v1, v2, Layout};

const V1_MEMORY_STAT: &str = "cache 4096\nrss 260046848\nrss_huge 0\nshmem 0\nmapped_file 0\ndirty 0\nwriteback 0\nswap 0\npgpgin 63558\npgpgout 0\npgfault 63591\npgmajfault 0\ninactive_anon 260046848\nactive_anon 0\ninactive_file 4096\nactive_file 0\nunevictable 0\nhierarchical_memory_limit 268435456\nhierarchical_memsw_limit 9223372036854771712\ntotal_cache 4096\ntotal_rss 260046848\ntotal_rss_huge 0\ntotal_shmem 0\ntotal_mapped_file 0\ntotal_dirty 0\ntotal_writeback 0\ntotal_swap 0\ntotal_pgpgin 63558\ntotal_pgpgout 0\ntotal_pgfault 63591\ntotal_pgmajfault 0\ntotal_inactive_anon 260046848\ntotal_active_anon 0\ntotal_inactive_file 4096\ntotal_active_file 0\ntotal_unevictable 0\n";
const V2_CPU_STAT: &str = "usage_usec 2000123\nuser_usec 1990000\nsystem_usec 10123\ncore_sched.force_idle_usec 0\nnr_periods 20\nnr_throttled 19\nthrottled_usec 950000\nnr_bursts 0\nburst_usec 0\n";
const PSI: &str = "some avg10=1.50 avg60=0.20 avg300=0.05 total=123456\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";

fn parsers(c: &mut Criterion) {
    c.bench_function("parse v1 memory.stat (36 keys)", |b| {
        b.iter(|| {
            v1::memory::stats_from(
                black_box("268435456\n"),
                Some("268435456\n"),
                Some("0\n"),
                Some("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"),
                black_box(V1_MEMORY_STAT),
            )
            .unwrap()
        })
    });
    c.bench_function("parse v2 cpu.stat", |b| {
        b.iter(|| v2::cpu::parse_stats(black_box(V2_CPU_STAT)).unwrap())
    });
    c.bench_function("parse PSI", |b| {
        b.iter(|| parse::parse_pressure(black_box(PSI)).unwrap())
    });
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    c.bench_function("parse /proc/self/mountinfo of this host", |b| {
        b.iter(|| parse::parse_mountinfo(black_box(&mountinfo)).unwrap())
    });
}

fn live(c: &mut Criterion) {
    let layout = match Layout::detect() {
        Ok(l) if limitcheck_cgroup::nix::unistd::geteuid().is_root() => l,
        _ => {
            eprintln!("live cgroup benchmarks skipped: need root and a cgroup filesystem");
            return;
        }
    };
    let cg = layout.cgroup().create().expect("create a bench cgroup");
    c.bench_function("Cgroup::stats() of a live cgroup (one sample)", |b| {
        b.iter(|| cg.stats().unwrap())
    });
    limitcheck_cgroup::fs::with_open_files(|| {
        c.bench_function(
            "Cgroup::stats() with files kept open (the sampler's way)",
            |b| b.iter(|| cg.stats().unwrap()),
        );
    });
    // One sample as the scenario sampler takes it (cgroup files kept open, plus the workload's
    // counters file): at 100 Hz, the share of a core is this time x 100 per second.
    let counters =
        std::env::temp_dir().join(format!("lc-bench-counters-{}.json", std::process::id()));
    std::fs::write(
        &counters,
        r#"{"bogo_ops":1,"respawns":0,"failed_forks":null}"#,
    )
    .unwrap();
    let target = limitcheck_scenario::sample::Target {
        cgroup: layout
            .cgroup()
            .name(cg.relative_path().file_name().unwrap().to_string_lossy())
            .open()
            .unwrap(),
        counters: Some(counters.clone()),
    };
    limitcheck_cgroup::fs::with_open_files(|| {
        c.bench_function("scenario sampler: one sample of one container", |b| {
            b.iter(|| limitcheck_scenario::sample::read(&target, 0, 0.0, 0.0))
        });
    });
    let _ = std::fs::remove_file(&counters);
    c.bench_function("Layout::detect()", |b| b.iter(|| Layout::detect().unwrap()));
    cg.destroy().expect("remove the bench cgroup");
}

criterion_group!(benches, parsers, live);
criterion_main!(benches);
