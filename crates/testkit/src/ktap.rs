//! A strict KTAP version 1 parser, written from the kernel's Documentation/dev-tools/ktap.rst,
//! for the tests of limitcheck's `--ktap` output. Stricter than the spec where limitcheck
//! promises more: a plan at every level, and no unknown lines.
//!
//! Checked: the version line begins every level, the plan `1..N` follows it and N results
//! come, numbered 1, 2, … in order; a nested level is indented by exactly two more spaces than
//! its parent and ends right before the parent's result line; a result line is `ok|not ok
//! <number> [<description>][ # [<directive>] [<diagnostic data>]]` with a description free
//! of `#`; a directive is one of SKIP, TODO, XFAIL, TIMEOUT, ERROR, and TIMEOUT and ERROR
//! come only on `not ok`; diagnostics between a nested level and the result line are the
//! parent's; a parent whose child failed (`not ok` without SKIP, XFAIL or TODO)
//! fails; diagnostics are `# …`; a `# Totals:` line (kselftest's) must match the results of
//! its level.

/// A test as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    /// Its number.
    pub number: usize,
    /// Its description.
    pub name: String,
    /// `ok` (true) or `not ok`.
    pub ok: bool,
    /// The directive, if any: `SKIP`, `ERROR`, …
    pub directive: Option<String>,
    /// The diagnostic data after the directive (or after `#` without one).
    pub data: String,
    /// The diagnostic lines just before its result line (without `# `).
    pub diagnostics: Vec<String>,
    /// Its subtests.
    pub subtests: Vec<Test>,
}

impl Test {
    /// Failed: `not ok` without SKIP, XFAIL or TODO.
    pub fn failed(&self) -> bool {
        !self.ok
            && !matches!(
                self.directive.as_deref(),
                Some("SKIP") | Some("XFAIL") | Some("TODO")
            )
    }

    /// Its subtests, found by name.
    pub fn sub(&self, name: &str) -> Option<&Test> {
        self.subtests.iter().find(|t| t.name == name)
    }
}

/// A parsed document: the top level's tests and its totals line, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The top-level tests.
    pub tests: Vec<Test>,
    /// The totals line's counts (pass, fail, xfail, xpass, skip, error), if one was given.
    pub totals: Option<[usize; 6]>,
}

const DIRECTIVES: [&str; 5] = ["SKIP", "TODO", "XFAIL", "TIMEOUT", "ERROR"];

struct Lines<'a> {
    lines: Vec<(usize, &'a str)>,
    at: usize,
}

impl<'a> Lines<'a> {
    fn peek(&self) -> Option<(usize, &'a str)> {
        self.lines.get(self.at).copied()
    }
    fn err(&self, why: &str) -> String {
        match self.lines.get(self.at) {
            Some((n, l)) => format!("line {}: {why}: {l:?}", n + 1),
            None => format!("at the end: {why}"),
        }
    }
}

fn indent_of(l: &str) -> usize {
    l.len() - l.trim_start_matches(' ').len()
}

/// Parses a KTAP document strictly; the error names the line and what is wrong.
pub fn parse(text: &str) -> Result<Document, String> {
    let mut ls = Lines {
        lines: text.lines().enumerate().collect(),
        at: 0,
    };
    let (tests, totals) = level(&mut ls, 0)?;
    if ls.peek().is_some() {
        return Err(ls.err("text after the last result of the top level"));
    }
    Ok(Document { tests, totals })
}

/// [`parse`], for tests: the document, or a panic naming what is wrong and showing the text.
pub fn must_parse(text: &str) -> Document {
    parse(text).unwrap_or_else(|e| panic!("not strict KTAP: {e}\n{text}"))
}

type Level = (Vec<Test>, Option<[usize; 6]>);

fn level(ls: &mut Lines, depth: usize) -> Result<Level, String> {
    let pad = "  ".repeat(depth);
    let expect_line = |ls: &mut Lines, want: &dyn Fn(&str) -> bool, what: &str| match ls.peek() {
        Some((_, l)) if indent_of(l) == pad.len() && want(&l[pad.len()..]) => {
            ls.at += 1;
            Ok(l[pad.len()..].to_string())
        }
        _ => Err(ls.err(&format!("expected {what} indented by {}", pad.len()))),
    };
    expect_line(ls, &|l| l == "KTAP version 1", "the version line")?;
    let plan = expect_line(ls, &|l| l.starts_with("1.."), "the plan")?;
    let planned: usize = plan[3..]
        .parse()
        .map_err(|_| format!("plan {plan:?}: not 1..N"))?;
    let mut tests = Vec::new();
    let mut diagnostics = Vec::new();
    let mut totals = None;
    let mut pending: Option<Vec<Test>> = None;
    while let Some((_, l)) = ls.peek() {
        let ind = indent_of(l);
        if ind > pad.len() {
            if ind != pad.len() + 2 || !l[ind..].starts_with("KTAP version") {
                return Err(ls.err(&format!(
                    "a nested level must begin with its version line indented by {}",
                    pad.len() + 2
                )));
            }
            if pending.is_some() {
                return Err(ls.err("two nested levels before one result line"));
            }
            let (subs, _) = level(ls, depth + 1)?;
            pending = Some(subs);
            continue;
        }
        if ind < pad.len() {
            break;
        }
        let body = &l[pad.len()..];
        if let Some(d) = body.strip_prefix('#') {
            let d = d.strip_prefix(' ').unwrap_or(d);
            if let Some(t) = d.strip_prefix("Totals:") {
                totals = Some(parse_totals(t).ok_or_else(|| ls.err("a malformed totals line"))?);
                ls.at += 1;
                continue;
            }
            // Between a nested level and its parent's result: the parent's (as in the spec's
            // "# example failed").
            diagnostics.push(d.to_string());
            ls.at += 1;
            continue;
        }
        if !(body.starts_with("ok ") || body.starts_with("not ok ")) {
            return Err(ls.err("an unknown line (limitcheck writes none)"));
        }
        if totals.is_some() {
            return Err(ls.err("a result after the totals line"));
        }
        let mut t = result_line(body).map_err(|e| ls.err(&e))?;
        if t.number != tests.len() + 1 {
            return Err(ls.err(&format!(
                "test number {} where {} was due",
                t.number,
                tests.len() + 1
            )));
        }
        t.diagnostics = std::mem::take(&mut diagnostics);
        t.subtests = pending.take().unwrap_or_default();
        if t.subtests.iter().any(Test::failed) && t.ok {
            return Err(ls.err("a parent is ok although a subtest failed"));
        }
        ls.at += 1;
        tests.push(t);
    }
    if pending.is_some() {
        return Err(ls.err("a nested level without its parent's result line"));
    }
    if tests.len() != planned {
        return Err(ls.err(&format!(
            "{} result(s) at depth {depth} where the plan said {planned}",
            tests.len()
        )));
    }
    if let Some(c) = totals {
        let count = |f: &dyn Fn(&Test) -> bool| tests.iter().filter(|t| f(t)).count();
        let d = |t: &Test, w: &str| t.directive.as_deref() == Some(w);
        let want = [
            count(&|t| t.ok && t.directive.is_none()),
            count(&|t| !t.ok && t.directive.is_none()),
            count(&|t| d(t, "XFAIL")),
            0,
            count(&|t| d(t, "SKIP")),
            count(&|t| d(t, "ERROR") || d(t, "TIMEOUT")),
        ];
        if c != want {
            return Err(format!(
                "the totals line says {c:?} (pass fail xfail xpass skip error) and the results {want:?}"
            ));
        }
    }
    Ok((tests, totals))
}

fn parse_totals(t: &str) -> Option<[usize; 6]> {
    let mut out = [0; 6];
    let keys = ["pass", "fail", "xfail", "xpass", "skip", "error"];
    let parts: Vec<&str> = t.split_whitespace().collect();
    if parts.len() != 6 {
        return None;
    }
    for (i, p) in parts.iter().enumerate() {
        let (k, v) = p.split_once(':')?;
        if k != keys[i] {
            return None;
        }
        out[i] = v.parse().ok()?;
    }
    Some(out)
}

fn result_line(body: &str) -> Result<Test, String> {
    let (ok, rest) = match body.strip_prefix("not ok ") {
        Some(r) => (false, r),
        None => (true, &body[3..]),
    };
    let (head, tail) = match rest.split_once('#') {
        Some((h, t)) => (h, Some(t)),
        None => (rest, None),
    };
    let head = head.trim_end();
    let (num, name) = head.split_once(' ').unwrap_or((head, ""));
    let number: usize = num
        .parse()
        .map_err(|_| format!("{num:?} is not a test number"))?;
    if tail.is_some() && !body.contains(" # ") {
        return Err("the `#` must have a space either side".into());
    }
    let (directive, data) = match tail {
        None => (None, String::new()),
        Some(t) => {
            let t = t.trim();
            let (w, d) = t.split_once(' ').unwrap_or((t, ""));
            if DIRECTIVES.contains(&w) {
                (Some(w.to_string()), d.trim().to_string())
            } else {
                (None, t.to_string())
            }
        }
    };
    if matches!(directive.as_deref(), Some("ERROR") | Some("TIMEOUT")) && ok {
        return Err("ERROR and TIMEOUT belong on `not ok`".into());
    }
    if name.trim().is_empty() {
        return Err("a result without a description (limitcheck names every test)".into());
    }
    Ok(Test {
        number,
        name: name.trim().to_string(),
        ok,
        directive,
        data,
        diagnostics: Vec::new(),
        subtests: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = "KTAP version 1\n1..1\n  KTAP version 1\n  1..3\n    KTAP version 1\n    1..1\n    # test_1: initializing test_1\n    ok 1 test_1\n  ok 1 example_test_1\n    KTAP version 1\n    1..2\n    ok 1 test_1 # SKIP test_1 skipped\n    ok 2 test_2\n  ok 2 example_test_2\n    KTAP version 1\n    1..3\n    ok 1 test_1\n    # test_2: FAIL\n    not ok 2 test_2\n    ok 3 test_3 # SKIP test_3 skipped\n  not ok 3 example_test_3\nnot ok 1 main_test\n";

    #[test]
    fn the_specs_example_parses_as_the_spec_explains_it() {
        let d = parse(SPEC_EXAMPLE).unwrap();
        let main = &d.tests[0];
        assert!(main.failed());
        assert_eq!(main.subtests.len(), 3);
        assert_eq!(
            main.subtests[0].subtests[0].diagnostics,
            ["test_1: initializing test_1"]
        );
        let t = &main.subtests[1].subtests[0];
        assert_eq!(
            (t.directive.as_deref(), t.data.as_str()),
            (Some("SKIP"), "test_1 skipped")
        );
        assert!(main.subtests[2].failed());
    }

    #[test]
    fn what_the_spec_forbids_is_refused() {
        for (bad, why) in [
            ("1..1\nok 1 a\n", "version"),
            ("KTAP version 1\nok 1 a\n", "plan"),
            ("KTAP version 1\n1..2\nok 1 a\n", "plan said 2"),
            ("KTAP version 1\n1..2\nok 1 a\nok 3 b\n", "number 3"),
            ("KTAP version 1\n1..1\n   KTAP version 1\n   1..1\n   ok 1 a\nok 1 b\n", "nested"),
            ("KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  not ok 1 a\nok 1 b\n", "subtest failed"),
            ("KTAP version 1\n1..1\nok 1 a # ERROR broke\n", "not ok"),
            ("KTAP version 1\n1..1\nhello\nok 1 a\n", "unknown"),
            ("KTAP version 1\n1..1\nok 1 a\n# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0\n", "totals"),
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        // A parent may be skipped or pass when a child is skipped; a directive not known is
        // diagnostic data.
        parse("KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  ok 1 a # SKIP no\nok 1 b # rcode=0\n").unwrap();
    }
}
