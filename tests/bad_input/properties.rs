//! Properties of the parsers and of the pure edit function, on generated
//! input. CI runs a small number of cases; `PROPTEST_CASES=20000 cargo test
//! --release --test bad_input properties` runs long.
//!
//! Not repeated from tests/edit/properties.rs (arbitrary bytes, YAML-ish
//! text, single-document scalar edits): reference/SPEC round trips, a time
//! bound on hostile YAML, and multi-document files with markers.

use std::sync::mpsc;
use std::time::Duration;

use gitops_bump::edit::{EditRequest, edit_file};
use gitops_bump::reference::{ImageName, Reference};
use gitops_bump::spec::{Field, ImageSpec};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(96);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn request(spec: &str) -> EditRequest {
    EditRequest {
        specs: vec![ImageSpec::parse(spec).expect("valid spec")],
        values_paths: Vec::new(),
        image_kinds: Vec::new(),
        allow_no_match: true,
        max_file_size: gitops_bump::edit::DEFAULT_MAX_FILE_SIZE,
    }
}

fn registry() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        "[a-z]([a-z0-9-]{0,8}[a-z0-9])?\\.[a-z]{2,5}",
        "[a-z]([a-z0-9-]{0,8}[a-z0-9])?\\.[a-z]{2,5}:[1-9][0-9]{1,4}",
        "localhost:[1-9][0-9]{1,4}",
        "127\\.0\\.0\\.1:[1-9][0-9]{1,4}",
    ])
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9]{1,6}([._-][a-z0-9]{1,4})?", 1..4).prop_map(|c| c.join("/"))
}

fn tag() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}"
}

fn digest() -> impl Strategy<Value = String> {
    "[0-9a-f]{64}".prop_map(|h| format!("sha256:{h}"))
}

fn reference_text() -> impl Strategy<Value = String> {
    (
        registry(),
        path(),
        prop::option::of(tag()),
        prop::option::of(digest()),
    )
        .prop_map(|(reg, path, tag, digest)| {
            let mut s = reg.map(|r| format!("{r}/{path}")).unwrap_or(path);
            if let Some(t) = tag {
                s.push(':');
                s.push_str(&t);
            }
            if let Some(d) = digest {
                s.push('@');
                s.push_str(&d);
            }
            s
        })
}

/// Runs `f` on a thread and fails if it takes longer than `limit`: a
/// parser that loops on hostile input must fail the test, not hang CI.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

/// Building blocks of hostile YAML: nesting, anchors and aliases, document
/// markers, directives, block scalars, markers, quotes and odd breaks.
fn hostile_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        (1usize..3000).prop_map(|n| "[".repeat(n)),
        (1usize..3000).prop_map(|n| "{a: ".repeat(n)),
        (1usize..500).prop_map(|n| "- ".repeat(n)),
        (1usize..50).prop_map(|n| (0..n)
            .map(|i| format!(
                "a{i}: &a{i} [*a{}, *a{}]\n",
                i.saturating_sub(1),
                i.saturating_sub(1)
            ))
            .collect()),
        Just("---\n".to_string()),
        Just("...\n".to_string()),
        Just("%YAML 1.2\n".to_string()),
        Just("%TAG ! tag:x,2000:\n".to_string()),
        Just("image: ghcr.io/org/app:v0\n".to_string()),
        Just("image: &img ghcr.io/org/app:v0\nother: *img\n".to_string()),
        Just("tag: v0 # gitops-bump: ghcr.io/org/app:tag\n".to_string()),
        Just("image: ghcr.io/org/app:v0 # {\"$imagepolicy\": \"flux:app\"}\n".to_string()),
        Just("kind: Deployment\n".to_string()),
        Just("images:\n- name: ghcr.io/org/app\n  newTag: v0\n".to_string()),
        Just("? [complex, key]\n: value\n".to_string()),
        Just("text: |\n  ghcr.io/org/app:v0\n".to_string()),
        Just("\"unterminated\n".to_string()),
        Just("\t\r\n".to_string()),
        Just("\u{feff}".to_string()),
        "[ -~\n]{0,40}",
    ]
}

/// A document of a multi-document file; each holds the app image at
/// `{T}` (to be replaced by the tag) and a decoy that must never change.
const DOCS: &[&str] = &[
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/org/app:{T}\n        - name: side\n          image: ghcr.io/org/decoy:v0\n",
    "# Helm values\nimage:\n  repository: ghcr.io/org/app\n  tag: {T}\ndecoy:\n  repository: ghcr.io/org/decoy\n  tag: v0\n",
    "apiVersion: v1\nkind: ConfigMap\ndata:\n  version: {T} # gitops-bump: ghcr.io/org/app:tag\n  other: v0\n",
    "apiVersion: batch/v1\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n            - image: \"ghcr.io/org/app:{T}\"\n",
    "apiVersion: v1\nkind: ConfigMap\ndata:\n  image: ghcr.io/org/app:{T} # {\"$imagepolicy\": \"flux-system:app\"}\n  plain: ghcr.io/org/app:v0\n",
];

proptest! {
    #![proptest_config(config())]

    /// The parser never panics on arbitrary text.
    #[test]
    fn reference_parse_never_panics(s in "\\PC{0,80}") {
        let _ = Reference::parse(&s);
        let _ = ImageSpec::parse(&s);
        let _ = ImageName::parse(&s);
    }

    /// Valid references survive display and parse unchanged, and the
    /// familiar spelling names the same image.
    #[test]
    fn reference_round_trips(text in reference_text()) {
        let r = Reference::parse(&text).expect("generated references are valid");
        let again = Reference::parse(&r.to_string()).expect("displayed form parses");
        prop_assert_eq!(&again, &r);
        prop_assert_eq!(ImageName::parse(&r.name.familiar()).expect("familiar parses"), r.name.clone());
    }

    /// A SPEC built from parts parses back into the same parts, and `*`
    /// parts are Keep.
    #[test]
    fn spec_parts_round_trip(
        name in path(),
        new_name in prop::option::of(prop_oneof![path().boxed(), Just("*".to_string()).boxed()]),
        tag in prop::option::of(prop_oneof![tag().boxed(), Just("*".to_string()).boxed()]),
        digest in prop::option::of(digest()),
    ) {
        let mut s = name.clone();
        if let Some(n) = &new_name { s.push('='); s.push_str(n); }
        if let Some(t) = &tag { s.push(':'); s.push_str(t); }
        if let Some(d) = &digest { s.push('@'); s.push_str(d); }
        let spec = ImageSpec::parse(&format!("  {s}\t")).expect("generated SPECs are valid");
        prop_assert_eq!(&spec.name, &name);
        let field = |v: &Option<String>| v.as_ref().map(|v| if v == "*" { Field::Keep } else { Field::Set(v.clone()) });
        prop_assert_eq!(&spec.new_name, &field(&new_name));
        prop_assert_eq!(&spec.tag, &field(&tag));
        prop_assert_eq!(spec.digest.as_ref().and_then(|d| d.as_set()).map(|d| d.to_string()), digest);
        prop_assert_eq!(ImageSpec::parse(&spec.to_string()).expect("reparses"), spec);
    }

    /// Hostile YAML (deep nesting, alias chains, directives, markers, stray
    /// document markers) edits or fails within a time bound, never panics,
    /// and an edit is idempotent.
    #[test]
    fn hostile_yaml_finishes_in_bounded_time(pieces in prop::collection::vec(hostile_piece(), 1..12)) {
        let text = pieces.concat();
        let outcome = within(Duration::from_secs(20), move || {
            let req = request("ghcr.io/org/app:v2");
            let mut results = Vec::new();
            for file in ["values.yaml", "kustomization.yaml", "deploy.yaml"] {
                let first = edit_file(file, text.as_bytes(), &req, true);
                let again = match &first {
                    Ok(edit) => edit.new_bytes.as_ref().map(|b| edit_file(file, b, &req, true).map(|e| e.new_bytes.is_none())),
                    Err(_) => None,
                };
                results.push((file, first.is_ok(), again.map(|r| r.ok())));
            }
            results
        });
        for (file, _, again) in outcome {
            if let Some(again) = again {
                prop_assert_eq!(again, Some(true), "{}: an edited file must reparse and be stable", file);
            }
        }
    }

    /// Multi-document files mixing workloads, Helm values and both marker
    /// styles: every occurrence of the image is bumped, once, in every
    /// document, the decoys and the separators are untouched.
    #[test]
    fn multi_document_files_bump_every_document(
        docs in prop::collection::vec(0..DOCS.len(), 1..8),
        explicit_end in any::<bool>(),
        crlf in any::<bool>(),
    ) {
        let render = |tag: &str| {
            let sep = if explicit_end { "...\n---\n" } else { "---\n" };
            let text = docs.iter().map(|&i| DOCS[i].replace("{T}", tag)).collect::<Vec<_>>().join(sep);
            if crlf { text.replace('\n', "\r\n") } else { text }
        };
        let before = render("v0");
        let req = request("ghcr.io/org/app:v2");
        let edit = within(Duration::from_secs(20), {
            let before = before.clone();
            move || edit_file("all.yaml", before.as_bytes(), &req, false)
        }).expect("valid files edit");
        let after = String::from_utf8(edit.new_bytes.expect("something changes")).expect("utf-8");
        prop_assert_eq!(after, render("v2"));
        prop_assert_eq!(edit.changes.len(), docs.len(), "one change per document");
    }
}
