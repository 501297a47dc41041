//! index.html opened in headless Chromium (Debian's `chromium`, which scripts/test.sh installs):
//! it renders, its charts are there, and the console stays quiet. Skips with a printed reason
//! when Chromium is not installed.

use std::io::Write;
use std::path::Path;
use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn headless(browser: &str, profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium")
}

#[test]
fn index_html_renders_its_charts_in_headless_chromium() {
    let Some(browser) = chromium() else {
        let _ = writeln!(std::io::stderr(), "SKIPPED index_html_renders_its_charts_in_headless_chromium: chromium is not installed (scripts/test.sh installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fail");
    for f in ["summary.json", "samples.csv"] {
        std::fs::copy(fixture.join(f), dir.path().join(f)).unwrap();
    }
    limitcheck_report::render(dir.path()).unwrap();
    let url = format!("file://{}", dir.path().join("index.html").display());
    let profile = dir.path().join("profile");

    // The DOM as the browser built it: the page, its four inline charts, their polylines.
    let out = headless(browser, &profile, &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dom.contains("limitcheck run") && dom.contains("FAIL"),
        "{dom}"
    );
    assert_eq!(dom.matches("<svg").count(), 8, "charts in the DOM");
    assert!(dom.contains("<polyline"));
    let log = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:?}");

    // A screenshot with content: a blank page compresses to a few KB.
    let shot = dir.path().join("shot.png");
    let out = headless(
        browser,
        &profile,
        &[
            "--window-size=1200,1600",
            &format!("--screenshot={}", shot.display()),
            &url,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert!(
        png.len() > 40_000,
        "the screenshot looks blank ({} bytes)",
        png.len()
    );
}
