//! One module per verb.

pub mod doctor;
pub mod stress;
