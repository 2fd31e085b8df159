//! Properties of the pure core over generated manifests.

use gitops_bump::edit::{DEFAULT_MAX_FILE_SIZE, EditRequest, edit_file};
use gitops_bump::spec::ImageSpec;
use proptest::prelude::*;

fn request(spec: &str) -> EditRequest {
    EditRequest {
        specs: vec![ImageSpec::parse(spec).expect("valid spec")],
        values_paths: vec![],
        image_kinds: vec![],
        allow_no_match: true,
        max_file_size: DEFAULT_MAX_FILE_SIZE,
    }
}

fn quote(style: u8, s: &str) -> String {
    match style {
        0 => s.to_string(),
        1 => format!("'{s}'"),
        _ => format!("\"{s}\""),
    }
}

/// Decorations around one container image: everything a human might put in
/// a manifest that the edit must not disturb.
#[derive(Debug, Clone)]
struct Manifest {
    bom: bool,
    crlf: bool,
    indent: usize,
    quote: u8,
    comments: Vec<String>,
    trailing_comment: Option<String>,
    blank_lines: usize,
    final_newline: bool,
    decoy_first: bool,
}

fn manifest() -> impl Strategy<Value = Manifest> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(2usize), Just(4usize)],
        0u8..3,
        prop::collection::vec("[a-zA-Z0-9 ,.:é#'\"-]{0,30}", 3),
        prop::option::of("[a-zA-Z0-9 .:é-]{0,20}"),
        0usize..3,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                bom,
                crlf,
                indent,
                quote,
                comments,
                trailing_comment,
                blank_lines,
                final_newline,
                decoy_first,
            )| Manifest {
                bom,
                crlf,
                indent,
                quote,
                comments,
                trailing_comment,
                blank_lines,
                final_newline,
                decoy_first,
            },
        )
}

impl Manifest {
    /// The file with `image` (already quoted) in the container.
    fn render(&self, image: &str, decoy: &str) -> String {
        let nl = if self.crlf { "\r\n" } else { "\n" };
        let i = " ".repeat(self.indent);
        let mut s = String::new();
        if self.bom {
            s.push('\u{feff}');
        }
        if self.decoy_first {
            s.push_str(&format!(
                "kind: ConfigMap{nl}data:{nl}{i}image: {decoy}{nl}---{nl}"
            ));
        }
        s.push_str(&format!("# {}{nl}", self.comments[0]));
        s.push_str(&format!(
            "apiVersion: v1{nl}kind: Pod{nl}metadata:{nl}{i}name: web # {}{nl}",
            self.comments[1]
        ));
        s.push_str(&nl.repeat(self.blank_lines));
        s.push_str(&format!(
            "spec:{nl}{i}containers:{nl}{i}- name: web{nl}{i}  image: {image}"
        ));
        if let Some(c) = &self.trailing_comment {
            s.push_str(&format!("   # {c}"));
        }
        s.push_str(&format!(
            "{nl}{i}  env:{nl}{i}  - name: IMAGE{nl}{i}    value: {decoy}{nl}# {}",
            self.comments[2]
        ));
        if self.final_newline {
            s.push_str(nl);
        }
        s
    }
}

fn tag() -> impl Strategy<Value = String> {
    "v[0-9]{1,2}\\.[0-9]{1,2}(-rc[0-9])?"
}

fn digest() -> impl Strategy<Value = String> {
    "[0-9a-f]{64}".prop_map(|h| format!("sha256:{h}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Output = input with exactly the image scalar replaced (same quote
    /// style); every other byte identical; and a second run changes nothing.
    #[test]
    fn only_the_image_scalar_changes(m in manifest(), old_tag in tag(), new_tag in tag(), d in prop::option::of(digest())) {
        let old = format!("ghcr.io/o/app:{old_tag}");
        let spec = match &d {
            Some(d) => format!("ghcr.io/o/app:{new_tag}@{d}"),
            None => format!("ghcr.io/o/app:{new_tag}"),
        };
        let decoy = quote(m.quote, &old);
        let input = m.render(&quote(m.quote, &old), &decoy);
        let want = m.render(&quote(m.quote, &spec), &decoy);
        let req = request(&spec);
        let out = edit_file("pod.yaml", input.as_bytes(), &req, false).expect("edits");
        let got = out.new_bytes.clone().map(|b| String::from_utf8(b).expect("utf8")).unwrap_or_else(|| input.clone());
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(out.changes.len(), usize::from(old != spec));
        let again = edit_file("pod.yaml", got.as_bytes(), &req, false).expect("edits again");
        prop_assert!(again.new_bytes.is_none());
        prop_assert!(again.changes.is_empty());
    }

    /// In a kustomization, a new tag rewrites only the `newTag` scalar,
    /// whatever the key order, quoting, comments and line breaks around it.
    #[test]
    fn kustomize_new_tag_touches_only_new_tag(
        m in manifest(),
        name_first in any::<bool>(),
        old_tag in tag(),
        new_tag in tag(),
        others in 0usize..3,
    ) {
        let nl = if m.crlf { "\r\n" } else { "\n" };
        let render = |tag: &str| {
            let name = format!("name: ghcr.io/o/app # {}", m.comments[0].replace(['\r', '\n'], " "));
            let tag_line = format!("newTag: {}", quote(m.quote, tag));
            let (first, second) = if name_first { (name, tag_line) } else { (tag_line, name) };
            let mut s = String::new();
            if m.bom {
                s.push('\u{feff}');
            }
            s.push_str(&format!("resources:{nl}- deploy.yaml{nl}images:{nl}"));
            for i in 0..others {
                s.push_str(&format!("- name: other{i}{nl}  newTag: v{i}{nl}"));
            }
            s.push_str(&format!("- {first}{nl}  {second}"));
            if let Some(c) = &m.trailing_comment {
                s.push_str(&format!(" # {c}"));
            }
            if m.final_newline {
                s.push_str(nl);
            }
            s
        };
        let input = render(&old_tag);
        let req = request(&format!("ghcr.io/o/app:{new_tag}"));
        let out = edit_file("kustomization.yaml", input.as_bytes(), &req, true).expect("edits");
        let got = out.new_bytes.map(|b| String::from_utf8(b).expect("utf8")).unwrap_or_else(|| input.clone());
        prop_assert_eq!(got, render(&new_tag));
    }

    /// Arbitrary bytes never panic: they edit or fail with a message.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let req = request("app:v2");
        let _ = edit_file("values.yaml", &bytes, &req, true);
        let _ = edit_file("kustomization.yaml", &bytes, &req, true);
    }

    /// Arbitrary YAML-ish text built from YAML's own punctuation never
    /// panics either, and a successful edit is idempotent.
    #[test]
    fn yamlish_text_never_panics(text in "([a-z]{1,4}|app(:v[0-9])?|image|images|name|newTag|kind|Pod|containers|[ \\-:\\[\\]{},#&*!|>'\"\n]){0,80}") {
        let req = request("app:v2");
        for file in ["values.yaml", "kustomization.yaml", "pod.yaml"] {
            if let Ok(out) = edit_file(file, text.as_bytes(), &req, true)
                && let Some(bytes) = out.new_bytes
            {
                let again = edit_file(file, &bytes, &req, true).expect("an edited file parses");
                prop_assert!(again.new_bytes.is_none(), "{}: {:?} -> {:?}", file, text, String::from_utf8_lossy(&bytes));
            }
        }
    }
}
