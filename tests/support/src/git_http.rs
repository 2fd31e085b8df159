//! `git http-backend` over every repository under a root, behind Basic auth
//! as GitHub does it (servers/githttp.py): any user name, a token as the
//! password.

use std::path::Path;

use crate::process::{Server, server_script};

/// The token the server accepts for clone, fetch and push.
pub const GIT_TOKEN: &str = "ghs_test_token_0123456789";
/// May clone and fetch; pushing answers 403.
pub const READ_ONLY_TOKEN: &str = "ghs_read_only_token_98765";

/// A running smart-HTTP git server; stopped on drop.
pub struct GitHttp {
    pub server: Server,
    pub port: u16,
    _logs: tempfile::TempDir,
}

impl GitHttp {
    /// Serves every repository under `root`.
    pub fn start(root: &Path) -> GitHttp {
        let logs = tempfile::tempdir().expect("temp dir");
        let server = Server::start(
            &server_script("githttp.py"),
            &[root.to_str().expect("utf-8"), GIT_TOKEN, READ_ONLY_TOKEN],
            logs.path(),
            "githttp",
        );
        GitHttp {
            port: server.port,
            server,
            _logs: logs,
        }
    }

    /// `http://127.0.0.1:PORT/repo`.
    pub fn url(&self, repo: &str) -> String {
        self.server.url(repo)
    }
}

/// The fault proxy (servers/faultproxy.py) in front of the HTTP server on
/// `upstream`, with `plan` for requests whose path contains `filter`.
pub fn fault_proxy(upstream: u16, plan: &str, filter: &str, dir: &Path) -> Server {
    Server::start(
        &server_script("faultproxy.py"),
        &[&upstream.to_string(), plan, filter],
        dir,
        "faultproxy",
    )
}
