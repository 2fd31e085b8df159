//! One file per kind of target, each documenting its rules. A target
//! imports the contract (`super::target`: what it is given, what it
//! answers) and never the engine, which calls them in its own order.

pub(crate) mod argocd;
pub(crate) mod compose;
pub(crate) mod helm;
pub(crate) mod kustomize;
pub(crate) mod marker;
pub(crate) mod workload;
