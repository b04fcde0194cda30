pub mod coldstart;
pub mod data;
pub mod label;
pub mod pretrain;
pub mod print;
pub mod retrieve;
pub mod select;
pub mod vl;
