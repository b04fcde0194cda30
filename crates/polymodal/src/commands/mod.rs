pub mod data;
pub mod print;
