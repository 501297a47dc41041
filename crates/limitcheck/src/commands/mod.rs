//! One module per verb.

pub mod doctor;
pub mod run;
pub mod stress;
