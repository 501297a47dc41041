//! Fuzz-style: every shipped scenario, mutated line by line (deleted, repeated, each number and
//! each string replaced by extreme or wrong values, the file cut short), is either accepted or
//! refused with an error naming the file and key — never a panic. Deterministic, so a failure
//! names the mutant that caused it.

use std::path::Path;

const NUMBERS: [&str; 10] = [
    "0",
    "-1",
    "1e30",
    "-1e30",
    "18446744073709551616",
    "0.0000001",
    "\"x\"",
    "nan",
    "inf",
    "4294967296",
];
const STRINGS: [&str; 9] = [
    "",
    "1e30",
    "-1",
    "999999999999999999999999M",
    "0s",
    "1k",
    "x",
    "-5s",
    "1e30s",
];

/// The byte ranges of number and string values in a line (after the `=` or inside arrays).
fn values(line: &str) -> Vec<(usize, usize, bool)> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = match line.find('=') {
        Some(e) => e + 1,
        None => return out,
    };
    while i < b.len() {
        match b[i] {
            b'"' => {
                let end = line[i + 1..].find('"').map(|e| i + 1 + e);
                match end {
                    Some(e) => {
                        out.push((i + 1, e, false));
                        i = e + 1;
                    }
                    None => break,
                }
            }
            c if c.is_ascii_digit() || c == b'-' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b".-+".contains(&b[i])) {
                    i += 1;
                }
                out.push((start, i, true));
            }
            _ => i += 1,
        }
    }
    out
}

fn mutants(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let join = |ls: Vec<String>| ls.join("\n") + "\n";
    for (n, line) in lines.iter().enumerate() {
        let with = |new: Option<String>, twice: bool| {
            let mut ls: Vec<String> = Vec::new();
            for (m, l) in lines.iter().enumerate() {
                if m == n {
                    if let Some(x) = &new {
                        ls.push(x.clone());
                        if twice {
                            ls.push(x.clone());
                        }
                    }
                } else {
                    ls.push(l.to_string());
                }
            }
            join(ls)
        };
        out.push(with(None, false));
        out.push(with(Some(line.to_string()), true));
        for (a, b, number) in values(line) {
            let subs: &[&str] = if number { &NUMBERS } else { &STRINGS };
            for sub in subs {
                out.push(with(
                    Some(format!("{}{sub}{}", &line[..a], &line[b..])),
                    false,
                ));
            }
        }
    }
    for cut in [
        1,
        7,
        text.len() / 3,
        text.len() / 2,
        text.len().saturating_sub(3),
    ] {
        let mut c = cut.min(text.len());
        while !text.is_char_boundary(c) {
            c -= 1;
        }
        out.push(text[..c].to_string());
    }
    out
}

#[test]
fn mutated_shipped_scenarios_are_accepted_or_refused_never_a_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the shipped scenarios: {files:?}");
    let (mut total, mut refused) = (0, 0);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        limitcheck_scenario::model::parse(&text, f).expect("a shipped scenario is valid");
        for (i, m) in mutants(&text).into_iter().enumerate() {
            total += 1;
            let name = format!("{}#{i}", f.display());
            let r = std::panic::catch_unwind(|| limitcheck_scenario::model::parse(&m, f));
            match r {
                Err(_) => panic!("{name} panicked; the mutant:\n{m}"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    refused += 1;
                    let msg = e.to_string();
                    assert!(msg.starts_with(&f.display().to_string()), "{name}: {msg}");
                    assert!(!e.key.is_empty(), "{name}: no key in {msg}");
                }
            }
        }
    }
    eprintln!(
        "{total} mutants of {} scenarios: {refused} refused, none panicked",
        files.len()
    );
    assert!(
        refused > total / 4,
        "{refused} of {total} refused: the mutations are too mild"
    );
}
