//! A real registry on 127.0.0.1: the CNCF distribution registry
//! (`docker-registry`) anonymous, behind htpasswd or behind a token server
//! (servers/tokenserver.py), images pushed with skopeo, and a
//! fault-injecting proxy in front of it (servers/registry_faults.py).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sha2::{Digest as _, Sha256};

use crate::process::{Process, server_script};

/// The deterministic OCI layout built once per test binary by scripts/mklayout.py.
pub fn layout() -> &'static Path {
    static LAYOUT: OnceLock<tempfile::TempDir> = OnceLock::new();
    LAYOUT
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let status = Command::new("python3")
                .arg(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../scripts/mklayout.py"
                ))
                .arg(dir.path().join("layout"))
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "mklayout.py failed");
            dir
        })
        .path()
}

pub enum Auth {
    Anonymous,
    Htpasswd,
    Token,
}

pub const USER: &str = "testuser";
pub const PASSWORD: &str = "testpass";

/// A running registry with filesystem storage in its own temp dir.
pub struct Registry {
    pub addr: String,
    pub dir: tempfile::TempDir,
    pub token_server: Option<Process>,
    /// The token server's host:port (its realm is plain HTTP).
    pub token_addr: Option<String>,
    process: Process,
}

impl Registry {
    pub fn start(auth: Auth) -> Registry {
        Self::start_for(auth, USER, PASSWORD)
    }

    /// With the token server accepting `user:password` (e.g. the
    /// `oauth2accesstoken` login Google's registries take).
    pub fn start_for(auth: Auth, user: &str, password: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut token_server = None;
        let mut token_addr_seen = None;
        let auth_config = match auth {
            Auth::Anonymous => String::new(),
            Auth::Htpasswd => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", USER, PASSWORD])
                    .output()
                    .unwrap();
                assert!(out.status.success());
                std::fs::write(root.join("htpasswd"), out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                    root.join("htpasswd").display()
                )
            }
            Auth::Token => {
                let status = Command::new("openssl")
                    .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
                    .arg(root.join("key.pem"))
                    .arg("-out")
                    .arg(root.join("cert.pem"))
                    .args(["-days", "2", "-subj", "/CN=test-token-signer"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .unwrap();
                assert!(status.success(), "openssl failed");
                let mut command = Command::new("python3");
                command
                    .arg(server_script("tokenserver.py"))
                    .arg("0")
                    .arg(root.join("key.pem"))
                    .arg(root.join("cert.pem"))
                    .arg("test-issuer")
                    .arg(format!("{user}:{password}"));
                let mut server = Process::spawn(command, root, "tokenserver");
                let token_addr = server.wait_for_address();
                token_server = Some(server);
                token_addr_seen = Some(token_addr.clone());
                format!(
                    "auth:\n  token:\n    realm: http://{token_addr}/token\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: {}\n",
                    root.join("cert.pem").display()
                )
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n  secret: test-secret\n{auth_config}",
            root.join("data").display()
        );
        std::fs::write(root.join("config.yml"), config).unwrap();
        let mut command = Command::new("docker-registry");
        command.arg("serve").arg(root.join("config.yml"));
        let mut process = Process::spawn(command, root, "registry");
        let addr = process.wait_for_address();
        Registry {
            addr,
            dir,
            token_server,
            token_addr: token_addr_seen,
            process,
        }
    }

    /// `skopeo copy` from the test layout (`single` or `multi`) to `dest`
    /// (`team/app:v1`), like a CI push.
    pub fn push(&self, source: &str, dest: &str, extra: &[&str]) {
        let xdg = self.dir.path().join("xdg");
        std::fs::create_dir_all(&xdg).unwrap();
        let mut command = Command::new("skopeo");
        command
            .env("XDG_RUNTIME_DIR", &xdg)
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .args(extra);
        if self.token_server.is_some() || self.has_htpasswd() {
            command.arg(format!("--dest-creds={USER}:{PASSWORD}"));
        }
        let out = command
            .arg(format!(
                "oci:{}:{source}",
                layout().join("layout").display()
            ))
            .arg(format!("docker://{}/{dest}", self.addr))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo copy {source} {dest}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// What `insecure-registries` must list for plain HTTP to this
    /// registry: itself and, with token auth, its token server.
    pub fn insecure(&self) -> String {
        match &self.token_addr {
            Some(t) => format!("{},{t}", self.addr),
            None => self.addr.clone(),
        }
    }

    fn has_htpasswd(&self) -> bool {
        self.dir.path().join("htpasswd").exists()
    }

    /// What skopeo (a reference client) says the digest is: the sha256 of
    /// the raw manifest bytes.
    pub fn skopeo_digest(&self, image: &str) -> String {
        let xdg = self.dir.path().join("xdg");
        std::fs::create_dir_all(&xdg).unwrap();
        let mut command = Command::new("skopeo");
        command
            .env("XDG_RUNTIME_DIR", &xdg)
            .args(["inspect", "--raw", "--tls-verify=false"]);
        if self.token_server.is_some() || self.has_htpasswd() {
            command.arg(format!("--creds={USER}:{PASSWORD}"));
        }
        let out = command
            .arg(format!("docker://{}/{image}", self.addr))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo inspect {image}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("sha256:{:x}", Sha256::digest(&out.stdout))
    }

    pub fn token_requests(&self) -> Vec<String> {
        self.token_server
            .as_ref()
            .map(|s| {
                s.log()
                    .lines()
                    .filter(|l| l.starts_with("TOKEN REQ"))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// The fault-injecting proxy (servers/registry_faults.py) in front of a
/// registry.
pub struct FaultProxy {
    pub addr: String,
    process: Process,
    _dir: tempfile::TempDir,
}

impl FaultProxy {
    pub fn start(registry: &Registry, plan: &str) -> FaultProxy {
        let dir = tempfile::tempdir().unwrap();
        let port = registry.addr.rsplit(':').next().unwrap();
        let mut command = Command::new("python3");
        command
            .arg(server_script("registry_faults.py"))
            .arg(port)
            .arg(plan);
        let mut process = Process::spawn(command, dir.path(), "faultproxy");
        let addr = process.wait_for_address();
        FaultProxy {
            addr,
            process,
            _dir: dir,
        }
    }

    /// `METHOD PATH STATUS` of each request the proxy saw.
    pub fn requests(&self) -> Vec<String> {
        self.process
            .log()
            .lines()
            .filter_map(|l| l.strip_prefix("REQ "))
            .map(str::to_string)
            .collect()
    }
}
