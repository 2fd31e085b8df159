//! The GitHub API client: REST and GraphQL calls ([`rest`]) and the GitHub
//! App credential, its JWT, installation token and revocation ([`app`]).
//! The runner contract (outputs, annotations, masks) is [`crate::actions`];
//! writing a commit through the API is a write-back transport,
//! [`crate::write_back::api`].

pub mod app;
pub mod rest;
