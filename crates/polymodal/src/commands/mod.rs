pub mod data;
pub mod label;
pub mod laziness;
pub mod print;
pub mod select;
pub mod vl;
