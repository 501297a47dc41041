//! v1 `freezer` controller.

use std::path::Path;

use crate::error::{CgroupError, Result};
use crate::fs::{read_with, write_in};
use crate::types::FreezerState;

/// `THAWED`, `FREEZING` or `FROZEN`.
pub const STATE: &str = "freezer.state";

/// Parses `freezer.state`.
pub fn parse_state(text: &str) -> Result<FreezerState> {
    match text.trim() {
        "THAWED" => Ok(FreezerState::Thawed),
        "FREEZING" => Ok(FreezerState::Freezing),
        "FROZEN" => Ok(FreezerState::Frozen),
        _ => Err(CgroupError::parse(
            STATE,
            text,
            "expected THAWED, FREEZING or FROZEN",
        )),
    }
}

/// Reads the state.
pub fn get(dir: &Path) -> Result<FreezerState> {
    read_with(dir, STATE, parse_state)
}

/// Asks for a state (the kernel may report `FREEZING` for a while after `FROZEN` is asked).
pub fn set(dir: &Path, state: FreezerState) -> Result<()> {
    let text = match state {
        FreezerState::Frozen => "FROZEN",
        FreezerState::Thawed => "THAWED",
        FreezerState::Freezing => {
            return Err(CgroupError::InvalidValue {
                what: "freezer state".into(),
                reason: "FREEZING is reported by the kernel, not set; ask for frozen".into(),
            })
        }
    };
    write_in(dir, STATE, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        assert_eq!(parse_state("FROZEN\n").unwrap(), FreezerState::Frozen);
        assert_eq!(parse_state("FREEZING\n").unwrap(), FreezerState::Freezing);
        assert!(parse_state("frozen").is_err());
    }
}
