pub mod data;
pub mod print;
pub mod select;
