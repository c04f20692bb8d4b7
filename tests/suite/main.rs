//! The integration tests, in one binary (one link, and one copy of each network's compiled
//! kernels instead of one per file): a module per subject. The tests that install a
//! counting allocator, and the compile-fail snapshots, are binaries of their own.

#[path = "../common/mod.rs"]
mod common;

mod conv;
mod convnet_training;
mod gradient_check;
mod idx;
mod layers;
mod network;
mod pytorch_import;
mod quant;
mod scalar_graph;
mod training;
mod two_threads;
mod user_layers;
