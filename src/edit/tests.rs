//! Golden before/after cases for the pure core, one table per target.

use super::error::EditProblem;
use super::*;
use crate::spec::ImageSpec;

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn request(specs: &[&str], values_paths: &[&str]) -> EditRequest {
    EditRequest {
        specs: specs.iter().map(|s| ImageSpec::parse(s).unwrap()).collect(),
        values_paths: values_paths.iter().map(|s| s.to_string()).collect(),
        image_kinds: Vec::new(),
        allow_no_match: false,
        max_file_size: DEFAULT_MAX_FILE_SIZE,
    }
}

/// A golden case: file name, input, SPECs, expected output.
struct Case {
    name: &'static str,
    file: &'static str,
    input: String,
    specs: Vec<String>,
    want: String,
}

fn case(name: &'static str, file: &'static str, input: &str, specs: &[&str], want: &str) -> Case {
    Case {
        name,
        file,
        input: input.replace("{D1}", D1).replace("{D2}", D2),
        specs: specs
            .iter()
            .map(|s| s.replace("{D1}", D1).replace("{D2}", D2))
            .collect(),
        want: want.replace("{D1}", D1).replace("{D2}", D2),
    }
}

fn run_cases(cases: Vec<Case>, values_paths: &[&str], may_append: bool) {
    run_cases_with(cases, values_paths, &[], may_append);
}

fn run_cases_with(cases: Vec<Case>, values_paths: &[&str], image_kinds: &[&str], may_append: bool) {
    for c in cases {
        let specs: Vec<&str> = c.specs.iter().map(String::as_str).collect();
        let mut req = request(&specs, values_paths);
        req.image_kinds = image_kinds.iter().map(|k| k.to_string()).collect();
        let out = edit_file(c.file, c.input.as_bytes(), &req, may_append)
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let got = out
            .new_bytes
            .as_deref()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .unwrap_or_else(|| c.input.clone());
        assert_eq!(got, c.want, "case {:?}", c.name);
        assert_eq!(
            out.new_bytes.is_some(),
            c.input != c.want,
            "case {:?}: changed flag",
            c.name
        );
        assert_eq!(
            out.changes.is_empty(),
            c.input == c.want,
            "case {:?}: changes {:?}",
            c.name,
            out.changes
        );
        // Idempotent: the same SPEC on the output changes nothing, and
        // still finds its image (a rename already made is no error).
        let again = edit_file(c.file, got.as_bytes(), &req, may_append).unwrap();
        assert_eq!(again.new_bytes, None, "case {:?}: not idempotent", c.name);
        assert_eq!(again.matched, out.matched, "case {:?}: matched", c.name);
        assert!(
            again.changes.is_empty(),
            "case {:?}: {:?}",
            c.name,
            again.changes
        );
    }
}

#[test]
fn kustomization_images() {
    let k = "kustomization.yaml";
    let cases = vec![
        case(
            "new tag replaces the entry (digest dropped, kustomize semantics)",
            k,
            "resources:\n- deploy.yaml\nimages:\n- name: ghcr.io/o/app # app\n  newTag: v1\n  digest: {D1}\n",
            &["ghcr.io/o/app:v2"],
            "resources:\n- deploy.yaml\nimages:\n- name: ghcr.io/o/app # app\n  newTag: v2\n",
        ),
        case(
            "tag and digest both written",
            k,
            "images:\n  - name: app\n    newTag: \"1.0\"\n",
            &["app:1.1@{D2}"],
            "images:\n  - name: app\n    newTag: \"1.1\"\n    digest: {D2}\n",
        ),
        case(
            "`*` keeps the tag, digest set",
            k,
            "images:\n- name: app\n  newTag: v1\n",
            &["app:*@{D2}"],
            "images:\n- name: app\n  newTag: v1\n  digest: {D2}\n",
        ),
        case(
            "NEWNAME sets newName",
            k,
            "images:\n- name: app\n  newTag: v1\n",
            &["app=ghcr.io/o/app:v2"],
            "images:\n- name: app\n  newTag: v2\n  newName: ghcr.io/o/app\n",
        ),
        case(
            "a new tag removes tagSuffix, as kustomize edit set image does",
            k,
            "images:\n- name: app\n  tagSuffix: -debug # why\n  newName: ghcr.io/o/app\n",
            &["app=*:v2"],
            "images:\n- name: app\n  newName: ghcr.io/o/app\n  newTag: v2\n",
        ),
        case(
            "`*` for the tag keeps tagSuffix (flow entry)",
            k,
            "images:\n- {name: app, tagSuffix: -debug}\n",
            &["app:*@{D1}"],
            "images:\n- {name: app, tagSuffix: -debug, digest: {D1}}\n",
        ),
        case(
            "a digest alone removes tagSuffix (flow entry)",
            k,
            "images:\n- {name: app, newTag: v1, tagSuffix: -debug}\n",
            &["app@{D1}"],
            "images:\n- {name: app, digest: {D1}}\n",
        ),
        case(
            "dropping a first key keeps the dash",
            k,
            "images:\n- digest: {D1}\n  name: app\n",
            &["app:v2"],
            "images:\n- name: app\n  newTag: v2\n",
        ),
        case(
            "match after normalization keeps the spelling",
            k,
            "images:\n- name: docker.io/library/nginx\n  newTag: '1.25'\n",
            &["nginx:1.27"],
            "images:\n- name: docker.io/library/nginx\n  newTag: '1.27'\n",
        ),
        case(
            "matched through newName keeps newName",
            k,
            "images:\n- name: app\n  newName: ghcr.io/o/app\n  newTag: v1\n",
            &["ghcr.io/o/app:v2"],
            "images:\n- name: app\n  newName: ghcr.io/o/app\n  newTag: v2\n",
        ),
        case(
            "renamed through newName, then the same SPEC again: no duplicate entry",
            k,
            "images:\n- name: placeholder\n  newName: ghcr.io/new/app\n  newTag: v2\n",
            &["ghcr.io/old/app=ghcr.io/new/app:v2"],
            "images:\n- name: placeholder\n  newName: ghcr.io/new/app\n  newTag: v2\n",
        ),
        case(
            "renamed through newName",
            k,
            "images:\n- name: placeholder\n  newName: ghcr.io/old/app\n  newTag: v1\n",
            &["ghcr.io/old/app=ghcr.io/new/app:v2"],
            "images:\n- name: placeholder\n  newName: ghcr.io/new/app\n  newTag: v2\n",
        ),
        case(
            "an empty `newTag:` is filled after its colon",
            k,
            "images:\n- name: app\n  newTag:\n",
            &["app:v2"],
            "images:\n- name: app\n  newTag: v2\n",
        ),
        case(
            "helmCharts valuesInline, and no images entry added for it",
            k,
            "helmCharts:\n- name: app\n  valuesInline:\n    image:\n      repository: ghcr.io/o/app\n      tag: v1\n",
            &["ghcr.io/o/app:v2"],
            "helmCharts:\n- name: app\n  valuesInline:\n    image:\n      repository: ghcr.io/o/app\n      tag: v2\n",
        ),
        case(
            "missing entry appended in the list's style",
            k,
            "images:\n  - name: other\n    newTag: x\n",
            &["app:v2"],
            "images:\n  - name: other\n    newTag: x\n  - name: app\n    newTag: v2\n",
        ),
        case(
            "missing images key created at the end, CRLF kept",
            k,
            "resources:\r\n  - a.yaml\r\n",
            &["app:v2"],
            "resources:\r\n  - a.yaml\r\nimages:\r\n  - name: app\r\n    newTag: v2\r\n",
        ),
        case(
            "missing final newline stays missing",
            k,
            "resources:\n- a.yaml",
            &["app:v2"],
            "resources:\n- a.yaml\nimages:\n- name: app\n  newTag: v2",
        ),
        case(
            "empty images key filled",
            k,
            "images: # none yet\nresources: []\n",
            &["app:v2"],
            "images: # none yet\n- name: app\n  newTag: v2\nresources: []\n",
        ),
        case(
            "flow list gets a flow entry",
            k,
            "images: []\n",
            &["app:v2"],
            "images: [{name: app, newTag: v2}]\n",
        ),
        case(
            "flow entry rewritten",
            k,
            "images:\n- {name: app, newTag: v1}\n",
            &["app:v2"],
            "images:\n- {name: app, newTag: v2}\n",
        ),
        case(
            "two new entries appended together",
            k,
            "images:\n- name: x\n",
            &["a:1", "b:2"],
            "images:\n- name: x\n- name: a\n  newTag: \"1\"\n- name: b\n  newTag: \"2\"\n",
        ),
        case(
            "already up to date",
            k,
            "images:\n- name: app\n  newTag: v2\n",
            &["app:v2"],
            "images:\n- name: app\n  newTag: v2\n",
        ),
        case(
            "comments inside the entry survive dropping two keys",
            k,
            "images:\n# the app\n- name: app # main\n  newName: ghcr.io/o/app\n  # pinned by CI\n  newTag: v1\n  digest: {D1}\nresources: [a.yaml]\n",
            &["app:v2"],
            "images:\n# the app\n- name: app # main\n  newTag: v2\nresources: [a.yaml]\n",
        ),
        case(
            "`*` on an absent field writes nothing",
            k,
            "images:\n- name: app\n  newTag: v1\n",
            &["app:v2@*"],
            "images:\n- name: app\n  newTag: v2\n",
        ),
        case(
            "kind: Kustomization under another file name",
            "overlay.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n- name: app\n  newTag: v1\n",
            &["app:v2"],
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n- name: app\n  newTag: v2\n",
        ),
        case(
            "BOM kept",
            k,
            "\u{feff}images:\n- name: app\n  newTag: v1\n",
            &["app:v2"],
            "\u{feff}images:\n- name: app\n  newTag: v2\n",
        ),
    ];
    run_cases(cases, &[], true);
}

#[test]
fn kustomization_not_pointed_at_is_not_appended_to() {
    let req = request(&["app:v2"], &[]);
    let out = edit_file("a/kustomization.yaml", b"resources: []\n", &req, false).unwrap();
    assert_eq!(out.new_bytes, None);
    assert_eq!(out.matched, vec![false]);
}

#[test]
fn workloads() {
    let d = "deploy.yaml";
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    note: \"ghcr.io/o/app:v1\"\nspec:\n  template:\n    spec:\n      initContainers:\n      - name: init\n        image: ghcr.io/o/app:v1\n      containers:\n      - name: app\n        image: \"ghcr.io/o/app:v1@{D1}\" # pinned\n        env:\n        - name: IMAGE\n          value: ghcr.io/o/app:v1\n";
    let cases = vec![
        case(
            "new tag drops the digest; annotation and env untouched",
            d,
            deployment,
            &["ghcr.io/o/app:v2"],
            &deployment
                .replace("image: ghcr.io/o/app:v1", "image: ghcr.io/o/app:v2")
                .replace("\"ghcr.io/o/app:v1@{D1}\"", "\"ghcr.io/o/app:v2\""),
        ),
        case(
            "digest alone drops the tag",
            d,
            "kind: Pod\nspec:\n  containers:\n  - image: 'app:v1'\n",
            &["app@{D2}"],
            "kind: Pod\nspec:\n  containers:\n  - image: 'app@{D2}'\n",
        ),
        case(
            "CronJob template, multi-document, other documents untouched",
            d,
            "kind: ConfigMap\ndata:\n  image: app:v1\n---\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n          - image: app:v1\n",
            &["app:v2"],
            "kind: ConfigMap\ndata:\n  image: app:v1\n---\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n          - image: app:v2\n",
        ),
        case(
            "List items and ephemeral containers",
            d,
            "kind: List\nitems:\n- kind: Pod\n  spec:\n    ephemeralContainers: [{name: d, image: app}]\n",
            &["app:v2"],
            "kind: List\nitems:\n- kind: Pod\n  spec:\n    ephemeralContainers: [{name: d, image: app:v2}]\n",
        ),
        case(
            "NEWNAME renames, keeps the tag only when the SPEC gives none",
            d,
            "kind: Pod\nspec:\n  containers:\n  - image: docker.io/library/nginx:1.25\n",
            &["nginx=ghcr.io/o/nginx"],
            "kind: Pod\nspec:\n  containers:\n  - image: ghcr.io/o/nginx:1.25\n",
        ),
        case(
            "anchors and aliases survive, comments too",
            d,
            "# top\nkind: Pod\nx: &a {k: v}\ny: *a\nspec:\n  containers:\n\n  - image: app:v1   # keep me\n",
            &["app:v2"],
            "# top\nkind: Pod\nx: &a {k: v}\ny: *a\nspec:\n  containers:\n\n  - image: app:v2   # keep me\n",
        ),
        case(
            "anchored and tagged image values keep their properties",
            d,
            "kind: Pod\nspec:\n  containers:\n  - image: &img app:v1\n  - image: !!str 'app:v1'\n  - image: *img\n",
            &["app:v2"],
            "kind: Pod\nspec:\n  containers:\n  - image: &img app:v2\n  - image: !!str 'app:v2'\n  - image: *img\n",
        ),
        case(
            "a rename made before is found again (idempotent)",
            d,
            "kind: Pod\nspec:\n  containers:\n  - image: ghcr.io/o/nginx:1.25\n",
            &["nginx=ghcr.io/o/nginx:1.27"],
            "kind: Pod\nspec:\n  containers:\n  - image: ghcr.io/o/nginx:1.27\n",
        ),
        case(
            "unrelated image untouched",
            d,
            "kind: Pod\nspec:\n  containers:\n  - image: app:v1\n  - image: sidecar:v1\n",
            &["app:v2"],
            "kind: Pod\nspec:\n  containers:\n  - image: app:v2\n  - image: sidecar:v1\n",
        ),
    ];
    run_cases(cases, &[], false);
}

#[test]
fn helm_values() {
    let v = "values.yaml";
    let cases = vec![
        case(
            "repository + tag",
            v,
            "replicas: 2\nimage:\n  repository: ghcr.io/o/app\n  tag: \"v1\"\n  pullPolicy: IfNotPresent\n",
            &["ghcr.io/o/app:v2"],
            "replicas: 2\nimage:\n  repository: ghcr.io/o/app\n  tag: \"v2\"\n  pullPolicy: IfNotPresent\n",
        ),
        case(
            "registry split, digest key set and tag emptied by a digest alone",
            v,
            "worker:\n  image:\n    registry: ghcr.io\n    repository: o/app\n    tag: v1\n    digest: \"\"\n",
            &["ghcr.io/o/app@{D2}"],
            "worker:\n  image:\n    registry: ghcr.io\n    repository: o/app\n    tag: \"\"\n    digest: \"{D2}\"\n",
        ),
        case(
            "new tag empties a stale digest",
            v,
            "image:\n  repository: app\n  tag: v1\n  digest: {D1}\n",
            &["app:v2"],
            "image:\n  repository: app\n  tag: v2\n  digest: \"\"\n",
        ),
        case(
            "no digest key: tag set, digest not invented",
            v,
            "image:\n  repository: app\n  tag: v1\n",
            &["app:v2@{D2}"],
            "image:\n  repository: app\n  tag: v2\n",
        ),
        case(
            "missing tag key added",
            v,
            "image:\n  repository: app\n",
            &["app:v2"],
            "image:\n  repository: app\n  tag: v2\n",
        ),
        case(
            "missing tag key added to a flow map",
            v,
            "image: {repository: app}\n",
            &["app:v2"],
            "image: {repository: app, tag: v2}\n",
        ),
        case(
            "numeric-looking tag gets quoted",
            v,
            "image:\n  repository: app\n  tag: 1.0\n",
            &["app:1.10"],
            "image:\n  repository: app\n  tag: \"1.10\"\n",
        ),
        case(
            "NEWNAME with a registry split writes both parts",
            v,
            "image:\n  registry: docker.io\n  repository: bitnami/redis\n  tag: '7.0'\n",
            &["bitnami/redis=ghcr.io/mirror/redis:7.2"],
            "image:\n  registry: ghcr.io\n  repository: mirror/redis\n  tag: '7.2'\n",
        ),
        case(
            "other images and lookalike strings untouched",
            v,
            "image:\n  repository: ghcr.io/o/app-worker\n  tag: v1\nnote: ghcr.io/o/app:v1\n",
            &["ghcr.io/o/app:v2"],
            "image:\n  repository: ghcr.io/o/app-worker\n  tag: v1\nnote: ghcr.io/o/app:v1\n",
        ),
        case(
            "{registry, image, tag, digest}: parts kept apart (ingress-nginx)",
            v,
            "controller:\n  image:\n    chroot: false\n    registry: registry.k8s.io\n    image: ingress-nginx/controller\n    tag: \"v1.14.0\"\n    digest: {D1}\n    pullPolicy: IfNotPresent\n",
            &["registry.k8s.io/ingress-nginx/controller:v1.15.1@{D2}"],
            "controller:\n  image:\n    chroot: false\n    registry: registry.k8s.io\n    image: ingress-nginx/controller\n    tag: \"v1.15.1\"\n    digest: {D2}\n    pullPolicy: IfNotPresent\n",
        ),
        case(
            "an `image` beside `tag` is a repository, never a full reference",
            v,
            "image:\n  image: ghcr.io/o/app\n  tag: v1\n",
            &["ghcr.io/o/app:v2"],
            "image:\n  image: ghcr.io/o/app\n  tag: v2\n",
        ),
        case(
            "an empty `tag:` is filled after its colon",
            v,
            "image:\n  repository: app\n  tag:\n  pullPolicy: Always\n",
            &["app:v0.17.0"],
            "image:\n  repository: app\n  tag: v0.17.0\n  pullPolicy: Always\n",
        ),
        case(
            "an empty `tag:` last in the file, with a comment",
            v,
            "image:\n  repository: app\n  tag: # set by CI\n",
            &["app:v2"],
            "image:\n  repository: app\n  tag: v2 # set by CI\n",
        ),
        case(
            "a folded tag keeps its header, line break and what follows",
            v,
            "image:\n  repository: app\n  tag: >-\n    v1\nx: 1\n",
            &["app:v2"],
            "image:\n  repository: app\n  tag: >-\n    v2\nx: 1\n",
        ),
        case(
            "a null tag or digest is no value",
            v,
            "image:\n  repository: app\n  tag: ~\n  digest: null\n",
            &["app:v2"],
            "image:\n  repository: app\n  tag: v2\n  digest: null\n",
        ),
        case(
            "a rename made before is found again (idempotent)",
            v,
            "image:\n  repository: ghcr.io/new/app\n  tag: v1\n",
            &["ghcr.io/old/app=ghcr.io/new/app:v2"],
            "image:\n  repository: ghcr.io/new/app\n  tag: v2\n",
        ),
        case(
            "a values file with a top-level `kind:` (fluent-bit) is values",
            v,
            "kind: DaemonSet\nimage:\n  repository: cr.fluentbit.io/fluent/fluent-bit\n  tag: 4.0.1\n",
            &["cr.fluentbit.io/fluent/fluent-bit:4.0.3"],
            "kind: DaemonSet\nimage:\n  repository: cr.fluentbit.io/fluent/fluent-bit\n  tag: 4.0.3\n",
        ),
        case(
            "a Kubernetes object (kind and apiVersion) is not values",
            v,
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  image: app:v1\n",
            &["app:v2"],
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  image: app:v1\n",
        ),
        case(
            "`*Image` keys hold full references",
            v,
            "sidecarImage: ghcr.io/o/app:v1\nimagePullPolicy: Always\n",
            &["ghcr.io/o/app:v2"],
            "sidecarImage: ghcr.io/o/app:v2\nimagePullPolicy: Always\n",
        ),
        case(
            "`version:` is the tag where there is no `tag`",
            v,
            "exporter:\n  repository: ghcr.io/o/app\n  version: 1.2.0\n",
            &["ghcr.io/o/app:1.3.0"],
            "exporter:\n  repository: ghcr.io/o/app\n  version: 1.3.0\n",
        ),
        case(
            "Flux HelmRelease spec.values",
            "release.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app\nspec:\n  values:\n    image:\n      repository: ghcr.io/o/app\n      tag: v1\n",
            &["ghcr.io/o/app:v2"],
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app\nspec:\n  values:\n    image:\n      repository: ghcr.io/o/app\n      tag: v2\n",
        ),
        case(
            "single-string image values anywhere",
            v,
            "jobs:\n  - name: migrate\n    image: app:v1\n",
            &["app:v2"],
            "jobs:\n  - name: migrate\n    image: app:v2\n",
        ),
    ];
    run_cases(cases, &[], false);
    let with_path = vec![
        case(
            "values path to a string",
            v,
            "app:\n  container: 'app:v1'\n",
            &["app:v2"],
            "app:\n  container: 'app:v2'\n",
        ),
        case(
            "values path to a map",
            v,
            "app:\n  container: {repository: app, tag: v1}\n",
            &["app:v2"],
            "app:\n  container: {repository: app, tag: v2}\n",
        ),
    ];
    run_cases(with_path, &["app.container"], false);
}

#[test]
fn compose_files() {
    let cases = vec![case(
        "services.*.image",
        "compose.yaml",
        "services:\n  web:\n    image: \"ghcr.io/o/app:v1\"\n    environment:\n      IMG: ghcr.io/o/app:v1\n  db:\n    image: postgres:16\n",
        &["ghcr.io/o/app:v2"],
        "services:\n  web:\n    image: \"ghcr.io/o/app:v2\"\n    environment:\n      IMG: ghcr.io/o/app:v1\n  db:\n    image: postgres:16\n",
    )];
    run_cases(cases, &[], false);
    let renamed = vec![case(
        "a rename made before is found again (idempotent)",
        "compose.yaml",
        "services:\n  web:\n    image: ghcr.io/o/web:v1\n",
        &["web=ghcr.io/o/web:v1"],
        "services:\n  web:\n    image: ghcr.io/o/web:v1\n",
    )];
    run_cases(renamed, &[], false);
    let anchored = vec![case(
        "an aliased image edits its anchor once",
        "docker-compose.yml",
        "x-image: &img \"ghcr.io/o/app:v1\"\nservices:\n  web:\n    image: *img\n  worker:\n    image: *img\n",
        &["ghcr.io/o/app:v2"],
        "x-image: &img \"ghcr.io/o/app:v2\"\nservices:\n  web:\n    image: *img\n  worker:\n    image: *img\n",
    )];
    run_cases(anchored, &[], false);
    let text = "x: &img app:v1\nservices:\n  a: {image: *img}\n  b: {image: *img}\n";
    let out = edit_file(
        "compose.yaml",
        text.as_bytes(),
        &request(&["app:v2"], &[]),
        false,
    )
    .unwrap();
    assert_eq!(
        (out.changes.len(), out.changes[0].line),
        (1, 1),
        "{:?}",
        out.changes
    );
    let interpolated = "services:\n  web:\n    image: ${REGISTRY}/app:v1\n";
    let req = request(&["app:v2"], &[]);
    let out = edit_file("compose.yaml", interpolated.as_bytes(), &req, false).unwrap();
    assert_eq!(
        out.new_bytes, None,
        "an interpolated image is not a reference"
    );
}

#[test]
fn kustomization_shapes_are_checked() {
    let req = request(&["app:v2"], &[]);
    let cases: [(&[u8], &str, (usize, usize)); 3] = [
        (
            b"images: app:v1\n",
            "expected a list under `images`, found a scalar",
            (1, 9),
        ),
        (
            b"images:\n- app:v1\n",
            "expected a mapping in `images`, found a scalar",
            (2, 3),
        ),
        (
            b"images:\n- name: app\n  newTag: [v1]\n",
            "expected a string, found a list",
            (3, 11),
        ),
    ];
    for (input, message, (line, col)) in cases {
        let e = edit_file("kustomization.yaml", input, &req, true).unwrap_err();
        assert_eq!(e.to_string(), message);
        let l = &e.at;
        assert_eq!(
            (l.file.as_str(), l.line, l.col),
            ("kustomization.yaml", line, col)
        );
    }
}

#[test]
fn argo_cd_applications() {
    let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    kustomize:\n      images:\n      - ghcr.io/o/app:v1\n      - other=ghcr.io/o/other:v1\n  sources:\n  - helm:\n      parameters:\n      - name: image.repository\n        value: ghcr.io/o/app\n      - name: image.tag\n        value: v1\n";
    let cases = vec![
        case(
            "kustomize images string and helm parameters",
            "app.yaml",
            app,
            &["ghcr.io/o/app:v2"],
            &app.replace("- ghcr.io/o/app:v1", "- ghcr.io/o/app:v2")
                .replace("value: v1", "value: v2"),
        ),
        case(
            "renamed kustomize image matched by its name",
            "app.yaml",
            app,
            &["other:v2"],
            &app.replace("other=ghcr.io/o/other:v1", "other:v2"),
        ),
        case(
            "ApplicationSet template",
            "appset.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nspec:\n  template:\n    spec:\n      source:\n        helm:\n          valuesObject:\n            image: {repository: app, tag: v1}\n",
            &["app:v2"],
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nspec:\n  template:\n    spec:\n      source:\n        helm:\n          valuesObject:\n            image: {repository: app, tag: v2}\n",
        ),
        case(
            "helm.parameters with only image.tag: the image named by an annotation",
            "app.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  annotations:\n    gitops-bump/image: ghcr.io/o/app\nspec:\n  source:\n    helm:\n      parameters:\n      - name: image.tag\n        value: \"v1\" # pinned\n      - {name: worker.image.tag, value: v1}\n",
            &["ghcr.io/o/app:v2"],
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  annotations:\n    gitops-bump/image: ghcr.io/o/app\nspec:\n  source:\n    helm:\n      parameters:\n      - name: image.tag\n        value: \"v2\" # pinned\n      - {name: worker.image.tag, value: v1}\n",
        ),
        case(
            "annotation with a prefix, digest parameter set too; ApplicationSet template metadata",
            "appset.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nspec:\n  template:\n    metadata:\n      annotations: {gitops-bump/worker.image: ghcr.io/o/worker}\n    spec:\n      sources:\n      - helm:\n          parameters:\n          - {name: worker.image.tag, value: v1}\n          - {name: worker.image.digest, value: \"\"}\n",
            &["ghcr.io/o/worker:v2@{D2}"],
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nspec:\n  template:\n    metadata:\n      annotations: {gitops-bump/worker.image: ghcr.io/o/worker}\n    spec:\n      sources:\n      - helm:\n          parameters:\n          - {name: worker.image.tag, value: v2}\n          - {name: worker.image.digest, value: \"{D2}\"}\n",
        ),
        case(
            "an image.repository parameter wins over the annotation",
            "app.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  annotations:\n    gitops-bump/image: ghcr.io/o/app\nspec:\n  source:\n    helm:\n      parameters:\n      - {name: image.repository, value: ghcr.io/o/other}\n      - {name: image.tag, value: v1}\n",
            &["ghcr.io/o/app:v2", "ghcr.io/o/other:v3"],
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  annotations:\n    gitops-bump/image: ghcr.io/o/app\nspec:\n  source:\n    helm:\n      parameters:\n      - {name: image.repository, value: ghcr.io/o/other}\n      - {name: image.tag, value: v3}\n",
        ),
    ];
    run_cases(cases, &[], false);
}

#[test]
fn argo_cd_tag_parameter_without_annotation_is_not_guessed() {
    let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: app\nspec:\n  source:\n    helm:\n      parameters:\n      - {name: image.tag, value: v1}\n";
    let out = edit_file(
        "app.yaml",
        app.as_bytes(),
        &request(&["app:v2"], &[]),
        false,
    )
    .unwrap();
    assert_eq!(out.new_bytes, None);
    assert_eq!(out.matched, vec![false]);
}

#[test]
fn setter_markers() {
    let cases = vec![
        case(
            "flux full reference in any CRD",
            "x.yaml",
            "kind: Thing\nspec:\n  img: ghcr.io/o/app:v1 # {\"$imagepolicy\": \"flux-system:app\"}\n",
            &["ghcr.io/o/app:v2"],
            "kind: Thing\nspec:\n  img: ghcr.io/o/app:v2 # {\"$imagepolicy\": \"flux-system:app\"}\n",
        ),
        case(
            "flux name + tag pair",
            "x.yaml",
            "kind: Thing\nspec:\n  repo: ghcr.io/o/app # {\"$imagepolicy\": \"ns:pol:name\"}\n  tag: \"v1\" # {\"$imagepolicy\": \"ns:pol:tag\"}\n",
            &["ghcr.io/o/app:v2"],
            "kind: Thing\nspec:\n  repo: ghcr.io/o/app # {\"$imagepolicy\": \"ns:pol:name\"}\n  tag: \"v2\" # {\"$imagepolicy\": \"ns:pol:tag\"}\n",
        ),
        case(
            "flux tag alone matched by the policy name",
            "x.yaml",
            "kind: Thing\nspec:\n  tag: v1 # {\"$imagepolicy\": \"ns:podinfo:tag\"}\n",
            &["ghcr.io/stefanprodan/podinfo:6.5.0"],
            "kind: Thing\nspec:\n  tag: 6.5.0 # {\"$imagepolicy\": \"ns:podinfo:tag\"}\n",
        ),
        case(
            "our marker, full and digest",
            "x.yaml",
            "kind: Thing\nspec:\n  a: app:v1 # gitops-bump: app\n  b: {D1} # gitops-bump: app:digest\n  c: v1 # gitops-bump: other:tag\n",
            &["app:v2@{D2}"],
            "kind: Thing\nspec:\n  a: app:v2@{D2} # gitops-bump: app\n  b: {D2} # gitops-bump: app:digest\n  c: v1 # gitops-bump: other:tag\n",
        ),
        case(
            "a marker in a ConfigMap opts the value in",
            "cm.yaml",
            "kind: ConfigMap\ndata:\n  image: app:v1 # gitops-bump: app\n  copy: app:v1\n",
            &["app:v2"],
            "kind: ConfigMap\ndata:\n  image: app:v2 # gitops-bump: app\n  copy: app:v1\n",
        ),
    ];
    run_cases(cases, &[], false);
}

#[test]
fn changes_say_where_and_what() {
    let req = request(&["ghcr.io/o/app:v2"], &[]);
    let input = "kind: Pod\nspec:\n  containers:\n  - name: x\n    image: \"ghcr.io/o/app:v1\"\n";
    let out = edit_file("dir/pod.yaml", input.as_bytes(), &req, false).unwrap();
    assert_eq!(
        out.changes,
        vec![Change {
            file: "dir/pod.yaml".into(),
            line: 5,
            column: 12,
            kind: TargetKind::Workload,
            image: "ghcr.io/o/app".into(),
            old: "ghcr.io/o/app:v1".into(),
            new: "ghcr.io/o/app:v2".into(),
            old_tag: Some("v1".into()),
            old_digest: None,
            new_name: Some("ghcr.io/o/app".into()),
            new_tag: Some("v2".into()),
            new_digest: None,
        }]
    );
}

#[test]
fn bad_input_is_located() {
    let req = request(&["app:v2"], &[]);
    type BadCase = (
        &'static str,
        &'static [u8],
        &'static str,
        Option<(usize, usize)>,
    );
    let cases: Vec<BadCase> = vec![
        (
            "unterminated quote",
            b"kind: Pod\nspec:\n  containers:\n  - image: \"app:v1\n",
            "invalid YAML: ",
            Some((4, 12)),
        ),
        (
            "tab indentation",
            b"kind: Pod\nspec:\n\tcontainers: app\n",
            "invalid YAML: tabs",
            Some((3, 2)),
        ),
        (
            "bad indentation",
            b"kind: Pod\nspec:\n  containers:\n  - image: app\n   name: x\n",
            "invalid YAML: ",
            Some((5, 4)),
        ),
        (
            "duplicate image key",
            b"kind: Pod\nspec:\n  containers:\n  - image: app:v1\n    image: app:v0\n",
            "duplicate key \"image\" (first at line 4)",
            Some((5, 5)),
        ),
        (
            "containers not a list",
            b"kind: Pod\nspec:\n  containers: app\n",
            "expected a list of containers, found a scalar",
            Some((3, 15)),
        ),
        (
            "NUL byte",
            b"kind: Pod\nimage: a\0pp\n",
            "the file contains a NUL byte",
            Some((2, 9)),
        ),
        (
            "not UTF-8",
            b"kind: Pod\n# app \xff\n",
            "the file is not valid UTF-8",
            Some((2, 7)),
        ),
    ];
    let mut deep = String::from("kind: Pod\n");
    for i in 0..10_000 {
        deep.push_str(&" ".repeat(i));
        deep.push_str("k:\n");
    }
    let deep: &'static str = Box::leak(deep.into_boxed_str());
    let mut cases = cases;
    cases.push((
        "10,000 levels of nesting",
        deep.as_bytes(),
        "YAML nested deeper than 200 levels",
        Some((202, 201)),
    ));
    for (name, input, message, at) in cases {
        let e = edit_file("p.yaml", input, &req, false).expect_err(name);
        assert!(e.to_string().starts_with(message), "{name}: {e}");
        assert_eq!(Some((e.at.line, e.at.col)), at, "{name}: {e}");
        assert!(!e.error.hint().is_empty(), "{name}");
    }
    let e = edit_file("kustomization.yaml", b"- a\n- b\n", &req, true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "expected a mapping (a kustomization), found a list"
    );
}

#[test]
fn a_marker_inside_a_values_map_wins_without_conflict() {
    let req = request(&["app:v2"], &[]);
    let input = "image:\n  repository: app\n  tag: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\n";
    let out = edit_file("values.yaml", input.as_bytes(), &req, false).unwrap();
    let got = String::from_utf8(out.new_bytes.unwrap()).unwrap();
    assert_eq!(got, input.replace("v1", "v2"));
    assert_eq!(out.changes.len(), 1);
    assert_eq!(out.changes[0].kind, TargetKind::Marker);
}

#[test]
fn alias_bombs_are_not_expanded() {
    let mut bomb = String::from("a0: &a0 [app, app, app, app, app, app, app, app, app, app]\n");
    for i in 1..40 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    bomb.push_str("image: app:v1\n");
    let req = request(&["app:v2"], &[]);
    let out = edit_file("values.yaml", bomb.as_bytes(), &req, false).unwrap();
    assert_eq!(out.changes.len(), 1);
}

#[test]
fn an_edit_that_would_not_read_back_is_refused() {
    // `{repository: app, tag}` has a key `tag` with no value and no colon:
    // there is no place a value could go that reads back as the tag.
    let text = "image: {repository: app, tag}\n";
    let err = edit_file(
        "values.yaml",
        text.as_bytes(),
        &request(&["app:v2"], &[]),
        false,
    )
    .unwrap_err();
    assert!(
        matches!((&err.error, err.at.line), (EditProblem::Unstable { .. }, 1)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "refusing to write this edit: the value here would read back as \"app\", not \"app:v2\""
    );
}

#[test]
fn a_digest_without_a_key_is_a_warning_naming_the_key() {
    let cases = [
        (
            "values.yaml",
            "image:\n  repository: ghcr.io/o/app\n  tag: v1\n",
            "image:\n  repository: ghcr.io/o/app\n  tag: v2\n",
            "this values map has no key `digest`; add the key `digest` (empty)",
        ),
        (
            "app.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n      parameters:\n      - {name: image.repository, value: ghcr.io/o/app}\n      - {name: image.tag, value: v1}\n",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n      parameters:\n      - {name: image.repository, value: ghcr.io/o/app}\n      - {name: image.tag, value: v2}\n",
            "this `helm.parameters` list has no parameter `image.digest`; add the parameter `image.digest` (empty)",
        ),
    ];
    let req = request(&[&format!("ghcr.io/o/app:v2@{D2}")], &[]);
    for (file, input, want, message) in cases {
        let out = edit_file(file, input.as_bytes(), &req, false).unwrap();
        assert_eq!(out.new_bytes.as_deref(), Some(want.as_bytes()), "{file}");
        assert_eq!(out.warnings.len(), 1, "{file}: {:?}", out.warnings);
        let w = &out.warnings[0];
        assert_eq!(
            (w.file.as_str(), w.line),
            (file, if file == "app.yaml" { 7 } else { 2 })
        );
        assert!(
            w.message.contains(D2) && w.message.contains(message),
            "{}",
            w.message
        );
        // Idempotent, and the warning stays while the key is missing.
        let again = edit_file(file, want.as_bytes(), &req, false).unwrap();
        assert_eq!((again.new_bytes, again.warnings.len()), (None, 1), "{file}");
    }
    // With the key there is nothing to warn about.
    let with_key = "image:\n  repository: ghcr.io/o/app\n  tag: v1\n  digest: \"\"\n";
    let out = edit_file("values.yaml", with_key.as_bytes(), &req, false).unwrap();
    assert!(out.warnings.is_empty());
    assert!(out.new_bytes.is_some());
}

#[test]
fn image_fields_of_listed_kinds() {
    let analysis = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  annotations: {note: ghcr.io/o/app:v1}\nspec:\n  metrics:\n  - name: smoke\n    provider:\n      job:\n        spec:\n          template:\n            spec:\n              containers:\n              - name: t\n                image: ghcr.io/o/app:v1 # test\n";
    let knative = "apiVersion: serving.knative.dev/v1\nkind: Service\nspec:\n  template:\n    spec:\n      containers:\n      - {image: \"ghcr.io/o/app:v1\"}\n";
    let tekton = "apiVersion: tekton.dev/v1\nkind: Task\nspec:\n  steps:\n  - name: build\n    image: ghcr.io/o/app:v1\n";
    let config_map = "apiVersion: v1\nkind: ConfigMap\ndata:\n  image: ghcr.io/o/app:v1\n";
    let cases = vec![
        case(
            "AnalysisTemplate: image under spec, not the annotation",
            "analysis.yaml",
            analysis,
            &["ghcr.io/o/app:v2"],
            &analysis.replace("image: ghcr.io/o/app:v1", "image: ghcr.io/o/app:v2"),
        ),
        case(
            "Knative Service listed with its API group",
            "ksvc.yaml",
            knative,
            &["ghcr.io/o/app:v2"],
            &knative.replace("app:v1", "app:v2"),
        ),
        case(
            "Tekton Task steps",
            "task.yaml",
            tekton,
            &["ghcr.io/o/app:v2"],
            &tekton.replace("app:v1", "app:v2"),
        ),
        case(
            "a core Service is not the Knative one",
            "svc.yaml",
            "apiVersion: v1\nkind: Service\nspec:\n  image: ghcr.io/o/app:v1\n",
            &["ghcr.io/o/app:v2"],
            "apiVersion: v1\nkind: Service\nspec:\n  image: ghcr.io/o/app:v1\n",
        ),
        case(
            "a ConfigMap is never guessed at",
            "cm.yaml",
            config_map,
            &["ghcr.io/o/app:v2"],
            config_map,
        ),
    ];
    run_cases_with(
        cases,
        &[],
        &[
            "AnalysisTemplate",
            "Service.serving.knative.dev",
            "Task",
            "ConfigMap",
        ],
        false,
    );
    // Not listed: a CRD's `image:` is left alone.
    let out = edit_file(
        "task.yaml",
        tekton.as_bytes(),
        &request(&["ghcr.io/o/app:v2"], &[]),
        false,
    )
    .unwrap();
    assert_eq!((out.new_bytes, out.matched), (None, vec![false]));
}
