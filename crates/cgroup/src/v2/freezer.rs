//! v2 freezer: the core files `cgroup.freeze` and `cgroup.events` (5.2+).

use std::path::Path;

use crate::error::{CgroupError, Result};
use crate::fs::{read_opt, read_with, write_in};
use crate::parse::{parse_flat_keyed, parse_u64};
use crate::types::FreezerState;

/// `1` to freeze, `0` to thaw.
pub const FREEZE: &str = "cgroup.freeze";
/// `populated` and `frozen` flags.
pub const EVENTS: &str = "cgroup.events";

/// Asks for a state.
pub fn set(dir: &Path, state: FreezerState) -> Result<()> {
    if !dir.join(FREEZE).exists() {
        return Err(CgroupError::Unsupported {
            what: "freezing".into(),
            version: "this kernel (no cgroup.freeze)",
            hint: "the v2 freezer needs Linux 5.2 or later".into(),
        });
    }
    match state {
        FreezerState::Frozen => write_in(dir, FREEZE, "1"),
        FreezerState::Thawed => write_in(dir, FREEZE, "0"),
        FreezerState::Freezing => Err(CgroupError::InvalidValue {
            what: "freezer state".into(),
            reason: "freezing is reported by the kernel, not set; ask for frozen".into(),
        }),
    }
}

/// Reads the state: asked-for and reached (`cgroup.events` `frozen 1`) is frozen; asked-for and
/// not yet reached is freezing.
pub fn get(dir: &Path) -> Result<FreezerState> {
    let asked = read_with(dir, FREEZE, |t| parse_u64(FREEZE, t))? == 1;
    let frozen = read_opt(dir, EVENTS, |t| parse_flat_keyed(EVENTS, t))?
        .and_then(|m| m.get("frozen").copied())
        == Some(1);
    Ok(match (asked, frozen) {
        (_, true) => FreezerState::Frozen,
        (true, false) => FreezerState::Freezing,
        (false, false) => FreezerState::Thawed,
    })
}
