//! Properties (see below).
