//! Bad input corpus: every kind of input the binary takes (action inputs,
//! CLI SPECs, paths, manifest bytes) in broken, hostile or conflicting
//! forms, run through the real binary (`gitops-bump run` against a real
//! bare remote over `file://`, and `gitops-bump set-image`).
//!
//! Each case asserts the exit code, the error text users see, that the
//! message names where the problem is (file:line:col and the matching
//! `::error` annotation for files, the input's name for inputs), and that
//! NOTHING changed: every byte of the checkout (with `.git`), of the remote
//! and of the directory outside the repository is fingerprinted before and
//! after.

mod properties;

use std::time::Duration;

use test_support::fixture::{GOOD_MANIFEST, Repo};
use test_support::{git, run_bin};

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");

const USAGE: i32 = 2;
const FAILURE: i32 = 1;

/// The first lines of a Deployment whose line 10 is the container's `image:`.
const HEAD: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n";

/// Something created in the checkout after seeding (never committed).
enum Extra {
    Fifo(&'static str),
    /// A character device node (`mknod`), like /dev/zero.
    CharDevice(&'static str),
    /// A sparse file: these bytes, then holes up to the size.
    Sparse(&'static str, &'static [u8], u64),
}

enum How {
    /// `gitops-bump run` with these inputs over the defaults
    /// (images=ghcr.io/org/app:v9, verify=false, paths=apps).
    Run(Vec<(&'static str, String)>),
    SetImage(Vec<&'static str>),
}

/// Where the message must say the problem is.
enum At {
    /// file:line:col, also as the `::error file=…,line=…,col=…` annotation.
    File(&'static str, usize, usize),
    /// A fragment naming the input, path or value.
    Text(&'static str),
}

struct Case {
    name: &'static str,
    files: Vec<(String, Vec<u8>)>,
    extras: Vec<Extra>,
    how: How,
    code: i32,
    says: &'static str,
    at: At,
}

impl Case {
    fn new(name: &'static str, how: How, code: i32, says: &'static str, at: At) -> Case {
        Case {
            name,
            files: Vec::new(),
            extras: Vec::new(),
            how,
            code,
            says,
            at,
        }
    }

    fn file(mut self, path: &str, bytes: impl Into<Vec<u8>>) -> Case {
        self.files.push((path.to_string(), bytes.into()));
        self
    }

    fn extra(mut self, extra: Extra) -> Case {
        self.extras.push(extra);
        self
    }
}

fn run(pairs: &[(&'static str, &str)]) -> How {
    How::Run(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
}

/// A manifest `apps/bad.yaml` walked by a default run.
fn yaml(name: &'static str, body: impl Into<Vec<u8>>, says: &'static str, at: At) -> Case {
    Case::new(name, run(&[]), FAILURE, says, at).file("apps/bad.yaml", body)
}

/// A run refused at validation; the message must name `input` in backquotes.
fn input(name: &'static str, pairs: &[(&'static str, &str)], says: &'static str) -> Case {
    let input = says_input(says).unwrap_or_else(|| pairs.last().map_or("images", |(k, _)| *k));
    let at = At::Text(Box::leak(format!("`{input}`").into_boxed_str()));
    Case::new(name, run(pairs), USAGE, says, at)
}

/// The input a message fragment already names (`input `mode` ...`).
fn says_input(says: &'static str) -> Option<&'static str> {
    let rest = says.split_once('`')?.1;
    Some(rest.split_once('`')?.0)
}

fn at(line: usize, col: usize) -> At {
    At::File("apps/bad.yaml", line, col)
}

const WIP: &str = "projects/1/locations/global/workloadIdentityPools/p/providers/q";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----";

fn image_line(value: &str) -> String {
    format!("{HEAD}          image: {value}\n")
}

fn nested(open: &str, close: &str, depth: usize) -> String {
    format!(
        "# ghcr.io/org/app\nx: {}{}\n",
        open.repeat(depth),
        close.repeat(depth)
    )
}

/// A billion-laughs document: ten levels of ten aliases each, which a
/// parser that expands aliases would blow up to 10^10 nodes. It ends with
/// an undefined alias, so reaching the end is an error at a known line.
fn alias_bomb() -> String {
    let mut s = String::from(
        "# ghcr.io/org/app\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        s.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    s.push_str("image: *undefined\n");
    s
}

fn yaml_cases() -> Vec<Case> {
    vec![
        yaml(
            "unterminated double quote",
            image_line("\"ghcr.io/org/app:v0"),
            "invalid YAML",
            at(10, 18),
        ),
        yaml(
            "unterminated single quote",
            image_line("'ghcr.io/org/app:v0"),
            "invalid YAML",
            at(10, 18),
        ),
        yaml(
            "unterminated flow sequence",
            "# values\nimages: [ghcr.io/org/app:v0\n",
            "invalid YAML",
            at(3, 1),
        ),
        yaml(
            "unterminated flow map",
            "image: {repository: ghcr.io/org/app, tag: v0\n",
            "invalid YAML",
            at(2, 1),
        ),
        yaml(
            "tab in the indentation",
            format!("{HEAD}\t  image: ghcr.io/org/app:v0\n"),
            "found a tab",
            at(9, 17),
        ),
        yaml(
            "misaligned key",
            format!("{HEAD}          image: ghcr.io/org/app:v0\n         bad: x\n"),
            "invalid YAML",
            at(11, 10),
        ),
        yaml(
            "invalid escape in a double-quoted scalar",
            image_line("\"ghcr.io/org/app:v0\\q\""),
            "unknown escape character",
            at(10, 18),
        ),
        yaml(
            // Naming the image: a walked file that does not parse and names
            // no image is passed over with a warning (issue #20).
            "undefined alias",
            image_line("*nope # ghcr.io/org/app"),
            "invalid YAML",
            at(10, 18),
        ),
        yaml(
            "alias bomb, never expanded",
            alias_bomb(),
            "invalid YAML",
            at(12, 8),
        ),
        yaml(
            "duplicate image key",
            format!(
                "{HEAD}          image: ghcr.io/org/app:v0\n          image: ghcr.io/org/app:v1\n"
            ),
            "duplicate key \"image\" (first at line 10)",
            at(11, 11),
        ),
        yaml(
            "duplicate key in a flow map",
            format!(
                "{}      containers: [{{name: app, image: ghcr.io/org/app:v0, image: x}}]\n",
                HEAD.trim_end_matches("      containers:\n        - name: app\n")
            ),
            "duplicate key \"image\"",
            at(8, 59),
        ),
        yaml(
            "nesting 10,000 flow sequences",
            nested("[", "]", 10_000),
            "recursion limit exceeded",
            at(2, 259),
        ),
        yaml(
            "nesting 10,000 flow maps",
            nested("{a: ", "}", 10_000),
            "nested deeper than 200 levels",
            at(2, 800),
        ),
        yaml(
            "nesting 10,000 block sequences",
            format!("# ghcr.io/org/app\n{}x\n", "- ".repeat(10_000)),
            "nested deeper than 200 levels",
            at(2, 401),
        ),
        yaml(
            "NUL byte",
            image_line("ghcr.io/org/app:v0\0"),
            "contains a NUL byte",
            at(10, 36),
        ),
        yaml(
            "invalid UTF-8 in a value",
            [HEAD.as_bytes(), b"          image: ghcr.io/org/app:v\xff\n"].concat(),
            "not valid UTF-8",
            at(10, 35),
        ),
        yaml(
            "Latin-1 comment",
            [b"# caf\xe9\n".as_slice(), GOOD_MANIFEST.as_bytes()].concat(),
            "not valid UTF-8",
            at(1, 6),
        ),
        yaml(
            "second document malformed",
            format!(
                "{}---\n{}",
                GOOD_MANIFEST,
                image_line("\"ghcr.io/org/app:v0")
            ),
            "invalid YAML",
            at(21, 18),
        ),
        yaml(
            "garbage after the document end marker",
            format!("{}...\ngarbage: [\n", GOOD_MANIFEST),
            "invalid YAML",
            at(13, 1),
        ),
        Case::new(
            "kustomization images is a string",
            run(&[]),
            FAILURE,
            "expected",
            At::File("apps/kustomization.yaml", 1, 9),
        )
        .file("apps/kustomization.yaml", "images: ghcr.io/org/app\n"),
        Case::new(
            "kustomization image entry is a scalar",
            run(&[]),
            FAILURE,
            "expected",
            At::File("apps/kustomization.yaml", 2, 3),
        )
        .file("apps/kustomization.yaml", "images:\n- ghcr.io/org/app\n"),
        Case::new(
            "kustomization duplicate images key",
            run(&[]),
            FAILURE,
            "duplicate key \"images\"",
            At::File("apps/kustomization.yaml", 4, 1),
        )
        .file(
            "apps/kustomization.yaml",
            "images:\n- name: ghcr.io/org/app\n  newTag: v0\nimages: []\n",
        ),
        Case::new(
            "kustomization newTag is a map",
            run(&[]),
            FAILURE,
            "expected",
            At::File("apps/kustomization.yaml", 3, 11),
        )
        .file(
            "apps/kustomization.yaml",
            "images:\n- name: ghcr.io/org/app\n  newTag: {a: b}\n",
        ),
        yaml(
            "containers is a map",
            format!(
                "{}        app:\n          image: ghcr.io/org/app:v0\n",
                HEAD.trim_end_matches("        - name: app\n")
            ),
            "expected",
            at(9, 9),
        ),
        yaml(
            "init container is a string",
            format!(
                "{HEAD}          image: ghcr.io/org/app:v0\n      initContainers:\n        - ghcr.io/org/app:v0\n"
            ),
            "expected a container mapping",
            at(12, 11),
        ),
        yaml(
            "Pod spec is a sequence",
            "apiVersion: v1\nkind: Pod\nspec:\n  - image: ghcr.io/org/app:v0\n",
            "expected a Pod spec mapping",
            at(4, 3),
        ),
        yaml(
            "List items is a string",
            "apiVersion: v1\nkind: List\nitems: ghcr.io/org/app\n",
            "expected a list of objects under `items`",
            at(3, 8),
        ),
        yaml(
            "Helm tag is a map",
            "image:\n  repository: ghcr.io/org/app\n  tag: {major: 1}\n",
            "expected a string tag",
            at(3, 8),
        ),
        yaml(
            "marker on a value that is no reference",
            "image: 'not a ref!!' # gitops-bump: ghcr.io/org/app\n",
            "expected an image reference (the comment marks it as one)",
            at(1, 8),
        ),
        Case::new(
            "100 MB file",
            run(&[]),
            FAILURE,
            "more than the limit of 10485760",
            At::Text("apps/huge.yaml"),
        )
        .extra(Extra::Sparse(
            "apps/huge.yaml",
            b"image: ghcr.io/org/app:v0\n#",
            100 << 20,
        )),
        Case::new(
            "100 MB file given by name",
            run(&[("paths", "apps/huge.yaml")]),
            FAILURE,
            "has 104857600 bytes",
            At::Text("apps/huge.yaml"),
        )
        .extra(Extra::Sparse(
            "apps/huge.yaml",
            b"image: ghcr.io/org/app:v0\n#",
            100 << 20,
        )),
    ]
}

fn path_cases() -> Vec<Case> {
    let outside = "{outside}/secret.yaml";
    let link = |to: &str| format!("link:{to}").into_bytes();
    vec![
        Case::new(
            "paths leaves the root with ..",
            run(&[("paths", "../outside")]),
            FAILURE,
            "the path leaves the root directory",
            At::Text("../outside"),
        ),
        Case::new(
            "paths is absolute outside the repo",
            run(&[("paths", "/etc/passwd")]),
            FAILURE,
            "the path leaves the root directory",
            At::Text("/etc/passwd"),
        ),
        Case::new(
            "paths climbs out through a subdirectory",
            run(&[("paths", "apps/../../outside/secret.yaml")]),
            FAILURE,
            "the path leaves the root directory",
            At::Text("apps/../../outside"),
        ),
        Case::new(
            "paths is /dev/null",
            run(&[("paths", "/dev/null")]),
            FAILURE,
            "the path leaves the root directory",
            At::Text("/dev/null"),
        ),
        Case::new(
            "paths does not exist",
            run(&[("paths", "apps/nope.yaml")]),
            FAILURE,
            "no such file or directory",
            At::Text("apps/nope.yaml"),
        ),
        Case::new(
            "file link to outside, walked",
            run(&[]),
            FAILURE,
            "a symbolic link leads outside the root directory",
            At::Text("apps/link.yaml"),
        )
        .file("apps/link.yaml", link(outside)),
        Case::new(
            "file link to outside, given",
            run(&[("paths", "apps/link.yaml")]),
            FAILURE,
            "a symbolic link leads outside the root directory",
            At::Text("apps/link.yaml"),
        )
        .file("apps/link.yaml", link(outside)),
        Case::new(
            "relative file link climbing out",
            run(&[("paths", "apps/link.yaml")]),
            FAILURE,
            "a symbolic link leads outside the root directory",
            At::Text("apps/link.yaml"),
        )
        .file("apps/link.yaml", link("../../outside/secret.yaml")),
        Case::new(
            "directory link to outside, walked",
            run(&[]),
            FAILURE,
            "a symbolic link leads outside the root directory",
            At::Text("apps/ext"),
        )
        .file("apps/ext", link("{outside}")),
        Case::new(
            "directory link to outside, given",
            run(&[("paths", "apps/ext")]),
            FAILURE,
            "a symbolic link leads outside the root directory",
            At::Text("apps/ext"),
        )
        .file("apps/ext", link("{outside}")),
        Case::new(
            "file behind a directory link to outside",
            run(&[("paths", "apps/ext/secret.yaml")]),
            FAILURE,
            "a symbolic link leads outside the root directory",
            At::Text("apps/ext"),
        )
        .file("apps/ext", link("{outside}")),
        Case::new(
            "link to /dev/zero, given",
            run(&[("paths", "apps/zero.yaml")]),
            FAILURE,
            "a symbolic link leads outside the root directory",
            At::Text("apps/zero.yaml"),
        )
        .file("apps/zero.yaml", link("/dev/zero")),
        Case::new(
            "link to /dev/null, walked",
            run(&[]),
            FAILURE,
            "a symbolic link leads outside the root directory",
            At::Text("apps/null.yaml"),
        )
        .file("apps/null.yaml", link("/dev/null")),
        Case::new(
            "link loop",
            run(&[("paths", "apps/loop-a.yaml")]),
            FAILURE,
            "apps/loop-a.yaml",
            At::Text("apps/loop-a.yaml"),
        )
        .file("apps/loop-a.yaml", link("loop-b.yaml"))
        .file("apps/loop-b.yaml", link("loop-a.yaml")),
        Case::new(
            "FIFO given by name",
            run(&[("paths", "apps/pipe.yaml")]),
            FAILURE,
            "is a FIFO, not a file or directory",
            At::Text("apps/pipe.yaml"),
        )
        .extra(Extra::Fifo("apps/pipe.yaml")),
        Case::new(
            "character device given by name",
            run(&[("paths", "apps/zero.yaml")]),
            FAILURE,
            "not a file or directory",
            At::Text("apps/zero.yaml"),
        )
        .extra(Extra::CharDevice("apps/zero.yaml")),
    ]
}

fn input_cases() -> Vec<Case> {
    vec![
        input(
            "images missing",
            &[("images", "")],
            "input `images` is required",
        ),
        input(
            "images only a comment",
            &[("images", "# later\n")],
            "input `images` is required",
        ),
        input(
            "images invalid name",
            &[("images", "ghcr.io/org/app:v1\nBad:Name")],
            "input `images`, line 2",
        ),
        input(
            "images short digest",
            &[("images", "ghcr.io/org/app@sha256:beef")],
            "input `images`, line 1",
        ),
        input(
            "images unknown digest algorithm",
            &[(
                "images",
                "ghcr.io/org/app@md5:0123456789abcdef0123456789abcdef",
            )],
            "input `images`, line 1",
        ),
        input(
            "images empty tag",
            &[("images", "ghcr.io/org/app:")],
            "input `images`, line 1",
        ),
        input(
            "images empty name",
            &[("images", "=ghcr.io/org/new:v1")],
            "input `images`, line 1",
        ),
        input(
            "images tag too long",
            &[("images", &format!("ghcr.io/org/app:{}", "t".repeat(129)))],
            "input `images`, line 1",
        ),
        input(
            "images space in tag",
            &[("images", "ghcr.io/org/app:v 1")],
            "input `images`, line 1",
        ),
        input(
            "mode invalid",
            &[("mode", "force")],
            "input `mode` has an invalid value \"force\"",
        ),
        input(
            "max-attempts too many",
            &[("max-attempts", "1001")],
            "expected a whole number from 0 (no limit but",
        ),
        input(
            "retry-deadline not a duration",
            &[("retry-deadline", "soon")],
            "`retry-deadline`",
        ),
        input(
            "max-attempts negative",
            &[("max-attempts", "-1")],
            "expected a whole number from 0 (no limit but",
        ),
        input(
            "max-attempts words",
            &[("max-attempts", "ten")],
            "expected a whole number from 0 (no limit but",
        ),
        input("verify yes", &[("verify", "yes")], "expected true or false"),
        input("dry-run 1", &[("dry-run", "1")], "expected true or false"),
        input(
            "allow-no-match maybe",
            &[("allow-no-match", "maybe")],
            "expected true or false",
        ),
        input(
            "newer-wins on",
            &[("newer-wins", "on")],
            "expected true or false",
        ),
        input(
            "allow-untrusted-events y",
            &[("allow-untrusted-events", "y")],
            "expected true or false",
        ),
        input(
            "wait in words",
            &[("wait", "5 minutes")],
            "input `wait` has an invalid value",
        ),
        input("wait unknown unit", &[("wait", "5d")], "unknown unit"),
        input("wait fraction", &[("wait", "1.5m")], "input `wait`"),
        input(
            "wait overflow",
            &[("wait", "99999999999999999999s")],
            "number too large",
        ),
        input(
            "commit-message unknown placeholder",
            &[("commit-message", "bump {imgae}")],
            "unknown placeholder {imgae}",
        ),
        input(
            "commit-message unclosed brace",
            &[("commit-message", "bump {image")],
            "unclosed `{`",
        ),
        input(
            "platforms without arch",
            &[("platforms", "amd64")],
            "expected OS/ARCH",
        ),
        input(
            "platforms too many parts",
            &[("platforms", "linux/arm/v7/x")],
            "expected OS/ARCH",
        ),
        input(
            "expected-digest short",
            &[("expected-digest", "sha256:beef")],
            "input `expected-digest`",
        ),
        input(
            "registry-password without username",
            &[("registry-password", "p4ss")],
            "inputs `registry-username` and `registry-password` conflict",
        ),
        input(
            "promote-from without promote-to",
            &[("promote-from", "overlays/dev")],
            "inputs `promote-from` and `promote-to` conflict",
        ),
        input(
            "service-account without provider",
            &[("service-account", "sa@p.iam.gserviceaccount.com")],
            "inputs `service-account` and `workload-identity-provider` conflict",
        ),
        input(
            "token-format without provider",
            &[("token-format", "access_token")],
            "inputs `token-format` and `workload-identity-provider` conflict",
        ),
        input(
            "token-format access_token without service-account",
            &[
                ("workload-identity-provider", WIP),
                ("token-format", "access_token"),
            ],
            "input `service-account` is required: `token-format: access_token` outputs a token generated for a service account",
        ),
        input(
            "credentials file without provider",
            &[("create-credentials-file", "true")],
            "inputs `create-credentials-file` and `workload-identity-provider` conflict",
        ),
        input(
            "token lifetime over 12h",
            &[
                ("workload-identity-provider", WIP),
                ("access-token-lifetime", "13h"),
            ],
            "must be between 1s and 12h",
        ),
        input(
            "token lifetime zero",
            &[
                ("workload-identity-provider", WIP),
                ("access-token-lifetime", "0s"),
            ],
            "must be between 1s and 12h",
        ),
        input(
            "token-format id_token",
            &[
                ("workload-identity-provider", WIP),
                ("token-format", "id_token"),
            ],
            "expected access_token",
        ),
        input(
            "author-email with an angle bracket",
            &[("author-email", "bot>@example.test")],
            "a git identity cannot contain",
        ),
        input(
            "author-name on two lines",
            &[("author-name", "deploy\nbot")],
            "a git identity cannot contain",
        ),
        input(
            "author-name with a carriage return",
            &[("author-name", "deploy\rbot")],
            "a git identity cannot contain",
        ),
        input(
            "commit-via rest",
            &[("commit-via", "rest")],
            "expected git or api",
        ),
        input(
            "app-id without key",
            &[("app-id", "123")],
            "input `app-private-key` is required",
        ),
        input(
            "app key without id",
            &[("app-private-key", KEY)],
            "input `app-id` is required",
        ),
        input(
            "app key not PEM",
            &[("app-id", "123"), ("app-private-key", "ghp_notakey")],
            "expected a PEM private key",
        ),
        input(
            "app installation id not a number",
            &[
                ("app-id", "123"),
                ("app-private-key", KEY),
                ("app-installation-id", "x9"),
            ],
            "expected a number",
        ),
        input(
            "app installation id without app",
            &[("app-installation-id", "9")],
            "inputs `app-installation-id` and `app-id` conflict",
        ),
        Case::new(
            "branch does not exist",
            run(&[("branch", "nope")]),
            FAILURE,
            "branch `nope` does not exist",
            At::Text("`nope`"),
        ),
        Case::new(
            "branch is not a valid ref name",
            run(&[("branch", "bad..name")]),
            FAILURE,
            "bad..name",
            At::Text("bad..name"),
        ),
        Case::new(
            "repository does not exist",
            run(&[("repository", "file:///nonexistent/gitops.git")]),
            FAILURE,
            "no git repository at /nonexistent/gitops.git: the path does not exist",
            At::Text("/nonexistent/gitops.git"),
        ),
        Case::new(
            "repository URL with credentials",
            run(&[(
                "repository",
                "https://user:hunter2@git.example.test/org/gitops.git",
            )]),
            FAILURE,
            "contains credentials",
            At::Text("git.example.test/org/gitops.git"),
        ),
        Case::new(
            "image matches nothing",
            run(&[("images", "ghcr.io/org/typo:v1")]),
            FAILURE,
            "no manifest refers to ghcr.io/org/typo",
            At::Text("ghcr.io/org/typo"),
        ),
    ]
}

fn set_image_cases() -> Vec<Case> {
    let set = |args: &[&'static str]| How::SetImage(args.to_vec());
    vec![
        Case::new(
            "set-image invalid SPEC",
            set(&["Bad:Name"]),
            USAGE,
            "Bad:Name",
            At::Text("Bad:Name"),
        ),
        Case::new(
            "set-image invalid digest",
            set(&["app@sha256:zz"]),
            USAGE,
            "sha256:zz",
            At::Text("app@sha256:zz"),
        ),
        Case::new(
            "set-image empty SPEC",
            set(&[""]),
            USAGE,
            "the spec is empty",
            At::Text("invalid image spec \"\""),
        ),
        Case::new(
            "set-image file outside --root",
            set(&[
                "--root",
                ".",
                "--file",
                "../outside/secret.yaml",
                "ghcr.io/org/app:v9",
            ]),
            FAILURE,
            "the path leaves the root directory",
            At::Text("../outside/secret.yaml"),
        ),
        Case::new(
            // Without --root a path outside is edited, but a device never.
            "set-image /dev/zero without --root",
            set(&["--file", "/dev/zero", "ghcr.io/org/app:v9"]),
            FAILURE,
            "is a device, not a file or directory",
            At::Text("/dev/zero"),
        ),
        Case::new(
            "set-image /dev/zero --root",
            set(&["--root", ".", "--file", "/dev/zero", "ghcr.io/org/app:v9"]),
            FAILURE,
            "the path leaves the root directory",
            At::Text("/dev/zero"),
        ),
        Case::new(
            "set-image FIFO",
            set(&["--file", "apps/pipe.yaml", "ghcr.io/org/app:v9"]),
            FAILURE,
            "is a FIFO",
            At::Text("apps/pipe.yaml"),
        )
        .extra(Extra::Fifo("apps/pipe.yaml")),
        Case::new(
            "set-image over --max-file-size",
            set(&[
                "--max-file-size",
                "10",
                "--file",
                "apps/app.yaml",
                "ghcr.io/org/app:v9",
            ]),
            FAILURE,
            "more than the limit of 10",
            At::Text("apps/app.yaml"),
        ),
        Case::new(
            "set-image malformed YAML in a walked dir",
            set(&["--dir", "apps", "ghcr.io/org/app:v9"]),
            FAILURE,
            "invalid YAML",
            at(10, 18),
        )
        .file("apps/bad.yaml", image_line("\"ghcr.io/org/app:v0")),
        Case::new(
            "set-image --check on malformed YAML",
            set(&["--check", "--dir", "apps", "ghcr.io/org/app:v9"]),
            FAILURE,
            "invalid YAML",
            at(10, 18),
        )
        .file("apps/bad.yaml", image_line("'ghcr.io/org/app:v0")),
        Case::new(
            "set-image one good and one broken file",
            set(&[
                "--file",
                "apps/app.yaml",
                "--file",
                "apps/bad.yaml",
                "ghcr.io/org/app:v9",
            ]),
            FAILURE,
            "contains a NUL byte",
            at(10, 36),
        )
        .file("apps/bad.yaml", image_line("ghcr.io/org/app:v0\0")),
        Case::new(
            "set-image bad --max-file-size",
            set(&["--max-file-size", "ten", "ghcr.io/org/app:v9"]),
            USAGE,
            "--max-file-size",
            At::Text("ten"),
        ),
    ]
}

/// Runs one case in a fresh repository; returns a failure description.
fn check(case: &Case) -> Option<String> {
    let repo = Repo::seeded(&case.files);
    let wt = repo.wt();
    for extra in &case.extras {
        let make = match extra {
            Extra::Fifo(p) => std::process::Command::new("mkfifo")
                .arg(wt.join(p))
                .status(),
            Extra::CharDevice(p) => std::process::Command::new("mknod")
                .arg(wt.join(p))
                .args(["c", "1", "5"])
                .status(),
            Extra::Sparse(p, head, size) => {
                let f = std::fs::File::create(wt.join(p)).expect("create");
                std::io::Write::write_all(&mut &f, head).expect("write");
                f.set_len(*size).expect("set_len");
                Ok(std::process::ExitStatus::default())
            }
        };
        assert!(
            make.is_ok_and(|s| s.success()),
            "{}: could not create the special file (mknod needs root)",
            case.name
        );
    }
    let before = repo.snapshot();
    let (args, env): (Vec<&str>, Vec<(String, String)>) = match &case.how {
        How::Run(pairs) => {
            let mut inputs: Vec<(&str, String)> = vec![
                ("images", "ghcr.io/org/app:v9".into()),
                ("verify", "false".into()),
                ("paths", "apps".into()),
            ];
            inputs.extend(pairs.iter().cloned());
            let env = inputs
                .into_iter()
                .map(|(k, v)| (format!("INPUT_{}", k.to_uppercase()), v))
                .collect();
            (vec!["run"], env)
        }
        How::SetImage(args) => {
            let mut all = vec!["set-image"];
            all.extend(args.iter().copied());
            (all, Vec::new())
        }
    };
    let out = run_bin(BIN, &wt, &args, &env, Duration::from_secs(60));
    let after = repo.snapshot();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut problems = Vec::new();
    if out.status.code() != Some(case.code) {
        problems.push(format!("exit {:?}, want {}", out.status.code(), case.code));
    }
    if !stderr.contains(case.says) {
        problems.push(format!("stderr lacks {:?}", case.says));
    }
    match &case.at {
        At::File(file, line, col) => {
            let prefix = format!("error: {file}:{line}:{col}: ");
            if !stderr.contains(&prefix) {
                problems.push(format!("stderr lacks {prefix:?}"));
            }
            let annotation = format!("file={file},line={line},col={col}::");
            if !stdout
                .lines()
                .any(|l| l.starts_with("::error ") && l.contains(&annotation))
            {
                problems.push(format!("no ::error annotation with {annotation:?}"));
            }
        }
        At::Text(t) => {
            if !stderr.contains(t) {
                problems.push(format!("stderr does not name {t:?}"));
            }
        }
    }
    if case.code != 0 && !stderr.contains("hint: ") && case.code != USAGE {
        problems.push("no hint".into());
    }
    if stdout.contains("changed=") || stdout.contains("commit-sha=") {
        problems.push("outputs were printed for a failed run".into());
    }
    let diff = before.diff(&after);
    if !diff.is_empty() {
        problems.push(format!("something changed:\n{diff}"));
    }
    (!problems.is_empty()).then(|| {
        format!(
            "{}: {}\n--- stderr:\n{stderr}--- stdout:\n{stdout}",
            case.name,
            problems.join("; ")
        )
    })
}

/// Runs a table, all cases, and reports every failing one at once.
fn check_all(cases: Vec<Case>) {
    let total = cases.len();
    let failures: Vec<String> = cases.iter().filter_map(check).collect();
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn malformed_and_hostile_manifests_are_refused_with_their_position() {
    check_all(yaml_cases());
}

#[test]
fn paths_outside_the_repository_and_special_files_are_refused() {
    check_all(path_cases());
}

#[test]
fn bad_and_conflicting_inputs_are_refused_naming_the_input() {
    check_all(input_cases());
}

#[test]
fn set_image_refuses_bad_specs_paths_and_files() {
    check_all(set_image_cases());
}

#[test]
fn the_corpus_is_large_enough() {
    let total =
        yaml_cases().len() + path_cases().len() + input_cases().len() + set_image_cases().len();
    assert!(total >= 60, "{total} cases");
}

/// Special files met while walking a directory are skipped without being
/// opened (reading a FIFO would hang, /dev/zero never ends): the run
/// finishes and bumps the real manifest next to them.
#[test]
fn special_files_in_a_walked_directory_are_skipped_unopened() {
    let extras: [(&str, &[&str]); 2] = [("mkfifo", &[]), ("mknod", &["c", "1", "5"])];
    for (tool, args) in extras {
        let repo = Repo::seeded(&[]);
        let special = repo.wt().join("apps/special.yaml");
        let made = std::process::Command::new(tool)
            .arg(&special)
            .args(args)
            .status()
            .expect("tool runs");
        assert!(made.success(), "{tool} (mknod needs root)");
        let env: Vec<(String, String)> = [
            ("INPUT_IMAGES", "ghcr.io/org/app:v9"),
            ("INPUT_VERIFY", "false"),
            ("INPUT_PATHS", "apps"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let out = run_bin(BIN, &repo.wt(), &["run"], &env, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{tool}: {stderr}");
        let pushed = git(&repo.remote(), &["show", "main:apps/app.yaml"]);
        assert!(
            pushed.contains("image: ghcr.io/org/app:v9"),
            "{tool}: {pushed}"
        );
        let files = git(
            &repo.remote(),
            &["show", "--name-only", "--format=", "main"],
        );
        assert_eq!(files, "apps/app.yaml", "{tool}");
    }
}
