pub mod data;
pub mod label;
pub mod print;
pub mod select;
pub mod vl;
pub mod laziness;
