//! Sizes and durations as people write them in limits and workloads.
//!
//! Sizes: a number of bytes, or a number with a binary suffix in docker's form (`512k`, `256m`,
//! `1g`, `1t`, any case, optional trailing `b`) or Kubernetes' (`256Ki`, `256Mi`, `1Gi`, `1Ti`).
//! Both mean powers of 1024: `256m` = `256Mi` = 268435456 (as `docker run -m 256m` does).
//! Kubernetes' decimal suffixes without `i` are read the docker way too, so `256M` is 256 MiB, not
//! 256×10⁶ bytes; write bytes when decimal is meant. Fractions are allowed (`1.5g`).
//!
//! Durations: `250us`, `500ms`, `10s`, `2m`, `1h`, fractions allowed; a bare number is seconds
//! (as stress-ng's `--timeout 60`).

use std::time::Duration;

/// Why a size or duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a {what}: {reason}")]
pub struct UnitError {
    /// What was expected (`size`, `duration`).
    pub what: &'static str,
    /// The text given.
    pub input: String,
    /// Why, with an example of the right form.
    pub reason: String,
}

fn split_number(t: &str) -> (&str, &str) {
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    (&t[..end], &t[end..])
}

/// Parses a size in bytes (see the module doc). Zero is refused: no limit or workload means
/// anything by a zero size.
///
/// ```
/// use limitcheck_cgroup::units::parse_size;
/// assert_eq!(parse_size("256m").unwrap(), 256 << 20);
/// assert_eq!(parse_size("256Mi").unwrap(), 256 << 20);
/// assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
/// assert_eq!(parse_size("4096").unwrap(), 4096);
/// assert!(parse_size("0").is_err());
/// assert!(parse_size("lots").is_err());
/// ```
pub fn parse_size(input: &str) -> Result<u64, UnitError> {
    let err = |reason: &str| UnitError {
        what: "size",
        input: input.to_string(),
        reason: format!("{reason}; write e.g. 268435456, 256m or 256Mi"),
    };
    let t = input.trim();
    let (num, suffix) = split_number(t);
    if num.is_empty() {
        return Err(err("it does not start with a number"));
    }
    let n: f64 = num.parse().map_err(|_| err("the number is malformed"))?;
    let s = suffix.to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let s = s.strip_suffix('i').unwrap_or(s);
    let shift = match s {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(err(&format!("unknown unit {suffix:?}"))),
    };
    let bytes = n * (1u64 << shift) as f64;
    if bytes < 1.0 {
        return Err(err("a size must be at least one byte"));
    }
    if bytes >= u64::MAX as f64 {
        return Err(err("it is too large"));
    }
    Ok(bytes.round() as u64)
}

/// Parses a duration (see the module doc). Zero is allowed (it means "no pause").
///
/// ```
/// use std::time::Duration;
/// use limitcheck_cgroup::units::parse_duration;
/// assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
/// assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
/// assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
/// assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
/// assert!(parse_duration("soon").is_err());
/// ```
pub fn parse_duration(input: &str) -> Result<Duration, UnitError> {
    let err = |reason: &str| UnitError {
        what: "duration",
        input: input.to_string(),
        reason: format!("{reason}; write e.g. 500ms, 10s or 2m"),
    };
    let t = input.trim();
    let (num, suffix) = split_number(t);
    if num.is_empty() {
        return Err(err("it does not start with a number"));
    }
    let n: f64 = num.parse().map_err(|_| err("the number is malformed"))?;
    let secs = match suffix {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" | "µs" => n / 1e6,
        "ns" => n / 1e9,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(err(&format!("unknown unit {suffix:?}"))),
    };
    if !secs.is_finite() || secs > 1e9 {
        return Err(err("it is too long"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_both_notations() {
        for (t, v) in [
            ("512k", 512 << 10),
            ("512K", 512 << 10),
            ("512kb", 512 << 10),
            ("512Ki", 512 << 10),
            ("64Mi", 64 << 20),
            ("1g", 1 << 30),
            ("1Gi", 1 << 30),
            ("2t", 2u64 << 40),
            (" 100 ", 100),
        ] {
            assert_eq!(parse_size(t).unwrap(), v, "{t}");
        }
        for bad in ["", "m", "-1", "12q", "1.2.3m", "0k", "0.0000001k"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.to_string().contains("256m"), "{bad}: {e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "s", "5 parsecs", "1e999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
