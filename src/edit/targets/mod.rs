//! One file per kind of target, each documenting its rules. A target
//! imports the contract (`super::target`: what it is given, what it
//! answers) and never the engine, which calls them in its own order.

pub mod argocd;
pub mod compose;
pub mod helm;
pub mod kustomize;
pub mod marker;
pub mod workload;
