//! One module per verb.

pub mod doctor;
pub mod image;
pub mod report;
pub mod run;
pub mod stress;
pub mod vm;
