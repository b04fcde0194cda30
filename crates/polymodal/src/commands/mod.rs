pub mod bench;
pub mod data;
pub mod demo;
pub mod embed;
pub mod eval;
pub mod train;
pub mod vl;
