//! One module per verb.

pub mod doctor;
