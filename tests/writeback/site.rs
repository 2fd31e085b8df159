//! One remote reached through one transport, and the workspace a run gets
//! on it: an empty directory plus `repository:` (path, `file://`, smart
//! HTTP), its own clone (checkout mode, a local or an HTTP origin), or
//! `commit-via: api` against the fake GitHub API. Servers are stopped and
//! reaped when the site is dropped.

use std::path::{Path, PathBuf};

use base64::Engine;

use test_support::fixture::Repo;
use test_support::git::{commit_all_and_push, git};
use test_support::git_http::{GIT_TOKEN, GitHttp};
use test_support::github::{FakeGitHub, Installation, OWNER, REPO, STATIC_TOKEN};

use crate::checks::enable_reflog;
use crate::runs::Launch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `repository: file:///…/remote.git`
    FileUrl,
    /// `repository: /…/remote.git`
    Path,
    /// No `repository`: the run's cwd is a full clone whose origin is a path.
    PathCheckout,
    /// No `repository`: a full clone whose origin is a `file://` URL.
    FileUrlCheckout,
    /// No `repository`: a depth-1 clone over smart HTTP, as
    /// `actions/checkout` makes it (credentials not persisted).
    HttpCheckout,
    /// `repository: http://…/remote.git`
    HttpRepository,
    /// `commit-via: api` with `repository: org/gitops`.
    Api,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::FileUrl => "repository: file:// URL",
            Transport::Path => "repository: plain path",
            Transport::PathCheckout => "checkout, origin a local path",
            Transport::FileUrlCheckout => "checkout, origin a file:// URL",
            Transport::HttpCheckout => "checkout (depth 1), origin smart HTTP",
            Transport::HttpRepository => "repository: smart HTTP URL",
            Transport::Api => "commit-via: api",
        }
    }

    fn uses_http(self) -> bool {
        matches!(self, Transport::HttpCheckout | Transport::HttpRepository)
    }
}

pub struct Site {
    pub transport: Transport,
    /// Workspaces and the runs' TMPDIR.
    pub dir: tempfile::TempDir,
    repo: Option<Repo>,
    http: Option<GitHttp>,
    api: Option<FakeGitHub>,
}

impl Site {
    /// A remote whose `main` holds `files` (path, content), its reflog on,
    /// reachable through `transport`.
    pub fn start(transport: Transport, files: &[(String, String)]) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("tmp")).expect("mkdir tmp");
        let mut site = Site {
            transport,
            dir,
            repo: None,
            http: None,
            api: None,
        };
        if transport == Transport::Api {
            let server = FakeGitHub::start(Installation::default());
            enable_reflog(&server.repo.path);
            let files: Vec<(&str, &str)> = files
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_str()))
                .collect();
            server.repo.commit("main", &files, "seed");
            site.api = Some(server);
        } else {
            let bytes: Vec<(String, Vec<u8>)> = files
                .iter()
                .map(|(p, c)| (p.clone(), c.clone().into_bytes()))
                .collect();
            let repo = Repo::seeded(&bytes);
            enable_reflog(&repo.remote());
            if transport.uses_http() {
                git(&repo.remote(), &["config", "http.receivepack", "true"]);
                site.http = Some(GitHttp::start(repo.dir.path()));
            }
            site.repo = Some(repo);
        }
        site
    }

    /// The bare repository behind every transport.
    pub fn bare(&self) -> PathBuf {
        match (&self.repo, &self.api) {
            (Some(repo), _) => repo.remote(),
            (None, Some(api)) => api.repo.path.clone(),
            (None, None) => unreachable!("a site has a remote"),
        }
    }

    /// The runs' TMPDIR, where a `repository:` run makes its clone.
    pub fn tmpdir(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    fn http_url(&self) -> String {
        self.http.as_ref().expect("an HTTP site").url("remote.git")
    }

    /// `http://127.0.0.1:PORT`, for `insecure-git-origins`.
    pub fn http_origin(&self) -> String {
        let url = self.http_url();
        url.trim_end_matches("/remote.git").to_string()
    }

    fn file_url(&self) -> String {
        format!("file://{}", self.bare().display())
    }

    /// A run bumping `image` in `path`, in `dir` (its files; the workspace
    /// is `dir/work`). A checkout is cloned now, from the current tip.
    pub fn launch(&self, label: String, dir: &Path, image: &str, path: &str) -> Launch {
        let work = dir.join("work");
        std::fs::create_dir_all(dir).expect("mkdir");
        let bare = self.bare().to_str().expect("utf-8").to_string();
        let launch =
            |inputs: &[(&str, &str)]| Launch::new(label.clone(), work.clone(), image, path, inputs);
        match self.transport {
            Transport::FileUrl => launch(&[("repository", &self.file_url())]),
            Transport::Path => launch(&[("repository", &bare)]),
            Transport::PathCheckout => {
                git(dir, &["clone", "-q", &bare, "work"]);
                launch(&[])
            }
            Transport::FileUrlCheckout => {
                git(dir, &["clone", "-q", &self.file_url(), "work"]);
                launch(&[])
            }
            Transport::HttpCheckout => {
                // Like actions/checkout with persist-credentials: false:
                // the token is a header of this one command, the origin is
                // the plain URL.
                let basic = base64::engine::general_purpose::STANDARD
                    .encode(format!("x-access-token:{GIT_TOKEN}"));
                let header = format!("http.extraHeader=Authorization: Basic {basic}");
                git(
                    dir,
                    &[
                        "-c",
                        &header,
                        "clone",
                        "-q",
                        "--depth",
                        "1",
                        &self.http_url(),
                        "work",
                    ],
                );
                launch(&[
                    ("token", GIT_TOKEN),
                    ("insecure-git-origins", &self.http_origin()),
                ])
            }
            Transport::HttpRepository => launch(&[
                ("repository", &self.http_url()),
                ("token", GIT_TOKEN),
                ("insecure-git-origins", &self.http_origin()),
            ]),
            Transport::Api => {
                let api = self.api.as_ref().expect("an API site");
                launch(&[
                    ("commit-via", "api"),
                    ("repository", &format!("{OWNER}/{REPO}")),
                    ("token", STATIC_TOKEN),
                ])
                .with("GITHUB_API_URL", &api.url)
            }
        }
    }

    /// Pushes a commit that touches no manifest, so a bump is no longer
    /// the tip (nor in a depth-1 clone made afterwards).
    pub fn push_unrelated_commit(&self, message: &str) {
        let repo = self.repo.as_ref().expect("a git site");
        let wt = repo.wt();
        git(&wt, &["pull", "-q", "--ff-only", "origin", "main"]);
        std::fs::write(wt.join("NOTES.md"), format!("{message}\n")).expect("write");
        commit_all_and_push(&wt, message);
    }
}
