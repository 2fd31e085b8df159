//! CLI entry: parse, run, render errors, exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgMatches, Args, FromArgMatches, Parser, Subcommand};

use gitops_bump::actions;
use gitops_bump::config::{Config, INPUTS, RawInputs, VerifyOptions};
use gitops_bump::edit::{self, EditRequest};
use gitops_bump::error::{Error, exit};
use gitops_bump::print::{self, Stream};
use gitops_bump::reference::Reference;
use gitops_bump::run_env::RunEnv;
use gitops_bump::spec::ImageSpec;
use gitops_bump::workspace;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (also: nothing to change)
  1  failure (registry, auth, git, file errors)
  2  usage error (bad flag, input or SPEC)
  3  --check found manifests that would change";

#[derive(Parser)]
#[command(
    name = "gitops-bump",
    version,
    about = "Verify a pushed container image and bump it in GitOps manifests, race-safe",
    long_about = "Verify a pushed container image and bump it in GitOps manifests (kustomize, \
                  workloads, Helm values, compose, Argo CD), then commit `[skip ci]` and push with \
                  retry. Inside GitHub Actions with no subcommand it runs the whole pipeline from \
                  the action's inputs.",
    after_help = EXIT_CODES,
)]
struct Cli {
    /// More logs (-v debug, -vv trace). Secrets are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline: auth → verify → edit → write-back → outputs.
    #[command(
        after_help = "Example:\n  gitops-bump run --images ghcr.io/org/app:v1.2.3 --paths overlays/dev --mode push\n\nEvery flag is also read from the action input of the same name (INPUT_<NAME>); a flag wins.\n\nThe write-back edits the branch's current tip and swaps the branch from exactly that tip; on a\nlost race it fetches the new tip and re-applies the edit. On every transport a reported commit-sha\nis on the branch, no bump overwrites another, and a deleted branch is never re-created:\n  https:// (http:// if in --insecure-git-origins): receive-pack swaps the ref from the tip\n    we send; the server's hooks run\n  a path or file://: git's own receive-pack with --force-with-lease; the remote's hooks run\n  --commit-via api: createCommitOnBranch with expectedHeadOid\nssh remotes are not supported."
    )]
    Run(RunArgs),
    /// Edit manifests in place: set images like `kustomize edit set image`.
    #[command(
        after_help = "Examples:\n  gitops-bump set-image --dir overlays/dev ghcr.io/org/app:v1.2.3\n  gitops-bump set-image --file values.yaml app=ghcr.io/org/app:*@sha256:…\n  gitops-bump set-image --check --dir . app:v2     # exit 3 if something would change\n\nSPEC is NAME[=NEWNAME][:TAG][@DIGEST]; `*` keeps the existing part.\n\nEdits, byte for byte (only the edited scalars change):\n  kustomization images:          - {name: ghcr.io/o/app, newTag: v1}\n  kustomize helmCharts values    valuesInline: {image: {repository: ghcr.io/o/app, tag: v1}}\n  workload containers            image: ghcr.io/o/app:v1   (Pod, Deployment, …, CronJob, Rollout)\n  Helm values maps               {registry?, repository|image, tag|version, digest?}\n  Helm values strings            image: ghcr.io/o/app:v1   sidecarImage: ghcr.io/o/app:v1\n  Helm values key paths          --values-paths app.image\n  Flux HelmRelease               spec.values, searched like a values file\n  compose                        services.web.image: ghcr.io/o/app:v1\n  Argo CD Application(Set)       kustomize.images, helm.parameters, helm.valuesObject\n  opt-in, Argo CD image.tag only  metadata.annotations: {gitops-bump/image: ghcr.io/o/app}\n                                 + helm.parameters: [{name: image.tag, value: v1}]\n  opt-in, CRD image: fields      --image-kinds Task  (every image: under spec of a Task;\n                                 KIND.GROUP for one API group: Service.serving.knative.dev)\n  opt-in, any CRD field          image: ghcr.io/o/app:v1 # gitops-bump: ghcr.io/o/app\nA values file may have its own `kind:` (an object has apiVersion, or metadata/spec).\nA kustomization whose `images:` sets the image is the source of truth: the files\nit lists under `resources:` (and its bases) are left alone for that image.\nA directory like `.` edits every overlay that uses the image: name the overlay.\nThe same SPEC twice is a no-op, renames included. Paths are relative to the\ncurrent directory; --root only confines them. Without --root a path outside the\ncurrent directory is edited too (set-image --file /tmp/values.yaml app:v2).\n\nDifferences from `kustomize edit set image`: names match after normalization\n(nginx == docker.io/library/nginx) and files keep their spelling; an entry whose\nnewName matches is edited too; entries are not re-sorted, a new one goes last;\nan existing tagSuffix is removed, as kustomize does, except with `*` for the tag\n(app:*@sha256:…), which keeps it.\nIn workloads a new tag drops a stale digest, a new digest drops the tag, and\nNAME:TAG@DIGEST writes both. A digest with no `digest` key (Helm values) or\n`image.digest` parameter (Argo CD) is not written: a warning names the key to add."
    )]
    SetImage(SetImageArgs),
    /// Resolve image references to digests in their registries.
    #[command(
        after_help = "Examples:\n  gitops-bump resolve ghcr.io/org/app:v1\n  gitops-bump resolve --parse-only --json nginx     # docker.io/library/nginx, no network\n\nCredentials: INPUT_REGISTRY-USERNAME/INPUT_REGISTRY-PASSWORD (sent only to INPUT_REGISTRY, or to the\none registry the REFs name), INPUT_TOKEN for ghcr.io, else the Docker config file; anonymous otherwise."
    )]
    Resolve(ResolveArgs),
    /// Promote the images deployed in one path into another (dev → prod).
    #[command(
        after_help = "Examples:\n  gitops-bump promote --from overlays/dev --to overlays/prod --mode pull-request\n  gitops-bump promote --from overlays/dev --to overlays/prod --tag v1.2.3 app   # same digest, release tag\n\nReads name, tag and digest exactly as deployed in --from and writes them into --to;\nthe digest is verified in its registry unless --verify false. Every `run` flag applies."
    )]
    Promote(PromoteArgs),
    /// The keyless auth stage on its own.
    Auth(AuthArgs),
    /// Wait until a pushed commit is deployed and healthy (Argo CD, or
    /// commit statuses / check runs such as Flux's).
    #[command(
        after_help = "Examples:\n  gitops-bump wait --commit 4f1c2d… --argocd-server https://argocd.example.com --argocd-applications guestbook   # token: $GITOPS_BUMP_ARGOCD_TOKEN\n  gitops-bump wait --commit 4f1c2d… --repository org/gitops --deploy-statuses 'kustomization/apps/*'            # token: $GITOPS_BUMP_TOKEN\n\nFirst asks Argo CD to refresh each Application (argocd-refresh: normal), so it does not wait for its next\ngit poll, then polls until each one is Synced to the commit (or to a newer commit containing it) and\nHealthy. Fails on Degraded, on a failed sync, or after --deploy-timeout, naming the last state seen.\nOutputs (GITHUB_OUTPUT, else printed): deployed, health, synced-revision, seconds-to-synced, seconds-to-healthy."
    )]
    Wait(WaitArgs),
}

#[derive(Args)]
struct WaitArgs {
    /// The pushed commit to wait for (a full commit id, e.g. the bump's commit-sha output).
    #[arg(long, value_name = "SHA")]
    commit: String,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct SetImageArgs {
    /// A file to edit (repeatable).
    #[arg(long = "file", value_name = "PATH")]
    files: Vec<PathBuf>,
    /// A directory to walk for manifests (repeatable). Default: `.` when no --file.
    #[arg(long = "dir", value_name = "PATH")]
    dirs: Vec<PathBuf>,
    /// Change nothing; exit 3 if an edit would be made.
    #[arg(long)]
    check: bool,
    /// Print the changes as JSON.
    #[arg(long)]
    json: bool,
    /// Extra Helm values key path holding an image (repeatable), e.g. app.image.
    #[arg(long = "values-paths", alias = "values-path", value_name = "KEY.PATH")]
    values_paths: Vec<String>,
    /// Also edit every `image:` under `spec` of objects of this kind
    /// (repeatable), e.g. AnalysisTemplate or Service.serving.knative.dev.
    #[arg(
        long = "image-kinds",
        alias = "image-kind",
        value_name = "KIND[.GROUP]"
    )]
    image_kinds: Vec<String>,
    /// Succeed even when an image matches nothing.
    #[arg(long)]
    allow_no_match: bool,
    /// Refuse files larger than this many bytes.
    #[arg(long, default_value_t = edit::DEFAULT_MAX_FILE_SIZE)]
    max_file_size: u64,
    /// Root the paths must stay inside (default: the current directory, or
    /// the directory holding the paths typed outside it). Paths are still
    /// relative to the current directory.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// NAME[=NEWNAME][:TAG][@DIGEST]
    #[arg(required = true, value_name = "SPEC")]
    specs: Vec<String>,
}

#[derive(Args)]
struct PromoteArgs {
    /// The path whose deployed images are promoted (e.g. overlays/dev).
    #[arg(long, value_name = "PATH")]
    from: PathBuf,
    /// The path to write them into (e.g. overlays/prod).
    #[arg(long, value_name = "PATH")]
    to: PathBuf,
    /// Retag the promoted images with this tag, keeping their digests.
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,
    /// Only these images (names as deployed); default: all.
    #[arg(value_name = "IMAGE")]
    only: Vec<String>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct ResolveArgs {
    /// Print registry, repository, tag, digest, media type and platforms as JSON.
    #[arg(long)]
    json: bool,
    /// Only parse and normalize; no network.
    #[arg(long)]
    parse_only: bool,
    /// Require these platforms in an index (os/arch[/variant]; repeatable,
    /// or comma separated). The input `platforms`.
    #[arg(long = "platforms", alias = "platform", value_name = "OS/ARCH")]
    platforms: Vec<String>,
    /// Registries (host:port) allowed over plain HTTP (repeatable, or comma
    /// separated). The input `insecure-registries`.
    #[arg(
        long = "insecure-registries",
        alias = "insecure-registry",
        value_name = "HOST:PORT"
    )]
    insecure_registries: Vec<String>,
    /// Keep polling this long for a missing image (e.g. 90s) [default: 0s].
    /// The input `wait`.
    #[arg(long, value_name = "DURATION")]
    wait: Option<String>,
    #[arg(required = true, value_name = "REF")]
    references: Vec<String>,
}

#[derive(Args)]
struct AuthArgs {
    #[command(subcommand)]
    provider: AuthProvider,
}

#[derive(Subcommand)]
enum AuthProvider {
    /// GitHub OIDC → Google STS → optional impersonation; prints the expiry, audiences and
    /// claims (never the token).
    #[command(
        after_help = "Example (in a job with `permissions: id-token: write`):\n  gitops-bump auth google --workload-identity-provider projects/123456/locations/global/workloadIdentityPools/gh/providers/gh --service-account deployer@proj.iam.gserviceaccount.com --json\n\nReads the same inputs as `run` (flags or INPUT_<NAME>). The token itself is never printed; with `token-format: access_token` inside Actions it becomes the masked `access-token` step output (it needs `--service-account`).\n\nInside Actions, like google-github-actions/auth, later steps are left authenticated: the credentials file is written to RUNNER_TEMP (`--create-credentials-file false` opts out), and the project (`--project-id`, or PROJECT of NAME@PROJECT.iam.gserviceaccount.com) becomes the `project-id` output and CLOUDSDK_CORE_PROJECT, CLOUDSDK_PROJECT, GCLOUD_PROJECT, GCP_PROJECT, GOOGLE_CLOUD_PROJECT."
    )]
    Google(AuthGoogleArgs),
}

#[derive(Args)]
struct AuthGoogleArgs {
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    run: RunArgs,
}

/// Every action input as a `--flag` of the same name.
struct RunArgs {
    raw: RawInputs,
}

/// `token` → `GITOPS_BUMP_TOKEN`: where a secret input can come from
/// without appearing in the process's command line.
fn secret_env_var(name: &str) -> String {
    format!("GITOPS_BUMP_{}", name.to_uppercase().replace('-', "_"))
}

/// `token` → `token-file`.
fn secret_file_flag(name: &str) -> String {
    format!("{name}-file")
}

/// Reads a secret from `--NAME-file`: the whole file, without the final
/// line break editors add.
fn read_secret_file(flag: &str, path: &str) -> Result<String, clap::Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        clap::Error::raw(
            clap::error::ErrorKind::ValueValidation,
            format!("--{flag} {path}: cannot read the file: {e}\n"),
        )
    })?;
    Ok(text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text)
        .to_string())
}

impl FromArgMatches for RunArgs {
    /// Precedence, lowest first: `INPUT_<NAME>`, then for secrets
    /// `GITOPS_BUMP_<NAME>` and `--NAME-file`, then the flag itself.
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut raw = RawInputs::from_env();
        for i in INPUTS {
            if i.secret {
                if let Some(v) = std::env::var(secret_env_var(i.name))
                    .ok()
                    .filter(|v| !v.trim().is_empty())
                {
                    raw.set(i.name, v);
                }
                let flag = secret_file_flag(i.name);
                if let Some(path) = m.get_one::<String>(&flag) {
                    raw.set(i.name, read_secret_file(&flag, path)?);
                }
            }
            if let Some(v) = m.get_one::<String>(i.name) {
                raw.set(i.name, v.clone());
            }
        }
        Ok(RunArgs { raw })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for RunArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let flags = INPUTS.iter().map(|i| {
            let mut a = clap::Arg::new(i.name)
                .long(i.name)
                .value_name("VALUE")
                .help(i.help);
            if !i.default.is_empty() && !i.secret {
                a = a.help(format!(
                    "{} [default: {}]",
                    i.help,
                    i.default.replace('\n', " ")
                ));
            }
            if i.secret {
                // A PEM key starts with `-----`: take it as the value, not
                // as an unknown flag clap would echo in its error.
                a = a.allow_hyphen_values(true).help(format!(
                    "{}. Visible to other processes as a flag: prefer --{} or ${}",
                    i.help,
                    secret_file_flag(i.name),
                    secret_env_var(i.name)
                ));
            }
            a
        });
        let files = INPUTS.iter().filter(|i| i.secret).map(|i| {
            clap::Arg::new(secret_file_flag(i.name))
                .long(secret_file_flag(i.name))
                .value_name("PATH")
                .help(format!(
                    "Read `{}` from this file (also: ${}); the flag --{} wins",
                    i.name,
                    secret_env_var(i.name),
                    i.name
                ))
        });
        cmd.args(flags).args(files)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

fn main() -> ExitCode {
    // Before anything can make a secret (reading the inputs does): each one
    // is masked in the Actions log the moment it exists.
    gitops_bump::secret::mask_with(actions::mask);
    // Even a panic's message goes through the printer: it may quote input.
    std::panic::set_hook(Box::new(|info| {
        print::message(Stream::Stderr, "internal error: ", &info.to_string());
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            print_parse_error(&e);
            return ExitCode::from(if e.use_stderr() { exit::USAGE as u8 } else { 0 });
        }
    };
    init_logging(cli.verbose);
    let result = match cli.command {
        Some(command) => dispatch(command),
        None if actions::in_actions() => dispatch(Command::Run(RunArgs {
            raw: RawInputs::from_env(),
        })),
        None => {
            print::line(
                Stream::Stderr,
                "gitops-bump: no command given; see `gitops-bump --help`",
            );
            Ok(exit::USAGE)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            report(&e);
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// Prints clap's message with the value of every secret flag on the command
/// line replaced by `***`: clap quotes offending arguments, and a secret
/// given as `--app-private-key "$KEY"` may be one of them.
fn print_parse_error(e: &clap::Error) {
    let args: Vec<String> = std::env::args().collect();
    let secrets = secret_flag_values(&args);
    let mut text = e.render().to_string();
    for secret in &secrets {
        text = text.replace(secret.as_str(), "***");
        // clap may print a multi-line value one line at a time.
        for line in secret.lines().filter(|l| l.trim().len() >= 8) {
            text = text.replace(line, "***");
        }
    }
    // A usage error echoes the value given; it is printed like any other
    // foreign text.
    let stream = if e.use_stderr() {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    print::lines(stream, &text);
}

/// The values given to secret flags: `--token V` and `--token=V`.
fn secret_flag_values(args: &[String]) -> Vec<String> {
    let secret_flags: Vec<String> = INPUTS
        .iter()
        .filter(|i| i.secret)
        .map(|i| format!("--{}", i.name))
        .collect();
    let mut values = Vec::new();
    for (n, arg) in args.iter().enumerate() {
        for flag in &secret_flags {
            if arg == flag {
                values.extend(args.get(n + 1).cloned());
            } else if let Some(v) = arg.strip_prefix(&format!("{flag}=")) {
                values.push(v.to_string());
            }
        }
    }
    values.retain(|v| !v.is_empty());
    values
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "gitops_bump=debug",
        _ => "gitops_bump=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GITOPS_BUMP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(print::LogWriter)
        .with_ansi(false)
        .without_time()
        .init();
}

fn report(e: &Error) {
    match e.location() {
        Some(l) => print::message(Stream::Stderr, &format!("error: {l}: "), &e.to_string()),
        None => print::message(Stream::Stderr, "error: ", &e.to_string()),
    }
    if let Some(h) = e.hint() {
        print::message(Stream::Stderr, "hint: ", &h);
    }
    actions::annotate(&e.annotation());
}

fn dispatch(command: Command) -> Result<i32, Error> {
    match command {
        Command::Run(args) => run_pipeline(&Config::from_raw(&args.raw)?),
        Command::Promote(args) => promote(args),
        Command::SetImage(args) => set_image(args),
        Command::Resolve(args) => resolve(args),
        Command::Auth(AuthArgs {
            provider: AuthProvider::Google(args),
        }) => auth_google(args),
        Command::Wait(args) => wait_for_deploy(args),
    }
}

/// `gitops-bump wait`: the wait stage alone, for a commit pushed earlier
/// (another job, or a merged pull request).
fn wait_for_deploy(args: WaitArgs) -> Result<i32, Error> {
    let wait = gitops_bump::config::WaitOptions::for_command(&args.run.raw)?;
    let commit = gitops_bump::config::parse_commit(&args.commit)?;
    start_watchdog(wait.timeout + std::time::Duration::from_secs(60));
    let (report, failure) = gitops_bump::deploy::command(&wait, &RunEnv::from_env(), &commit);
    let entries = report.entries();
    if actions::EnvFile::from_env("GITHUB_OUTPUT").is_some() {
        gitops_bump::outputs::append_to_step(&entries)?;
        if let Some(file) = actions::EnvFile::from_env("GITHUB_STEP_SUMMARY") {
            file.append_text(&format!("### gitops-bump\n{}", report.summary_markdown()))
                .map_err(|e| Error::io("writing the job summary", e))?;
        }
    } else {
        for (k, v) in &entries {
            print::line(Stream::Stdout, &format!("{k}={v}"));
        }
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(exit::OK),
    }
}

/// Ends the process when the run outlives `limit`, wherever it waits (a
/// server that accepts a connection and never answers, a registry poll, a
/// deploy); ending the process is safe for the remote, which applies a push
/// atomically or not at all.
fn start_watchdog(limit: std::time::Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        let e = Error::TimedOut(limit);
        report(&e);
        gitops_bump::cleanup::remove_all();
        std::process::exit(e.exit_code());
    });
}

fn auth_google(args: AuthGoogleArgs) -> Result<i32, Error> {
    use gitops_bump::auth::{self, AuthSummary};
    let config = Config::for_auth(&args.run.raw)?;
    if config.auth.google.is_none() {
        return Err(gitops_bump::config::ConfigError::Missing {
            input: "workload-identity-provider",
            why: "`auth google` exchanges the job's GitHub OIDC token through a workload identity provider",
        }
        .into());
    }
    let stage =
        gitops_bump::http::block_on(auth::run_stage(&config.auth, &RunEnv::from_env().auth()))
            .map_err(|e| Error::io("starting the async runtime", e))??;
    let Some(google) = &stage.google else {
        return Err(Error::NotImplemented("auth without a provider"));
    };
    let mut entries = Vec::new();
    if config.outputs.access_token {
        entries.push((
            "access-token".to_string(),
            google.token.access_token.expose().to_string(),
        ));
    }
    if let Some(project) = &stage.project_id {
        entries.push(("project-id".to_string(), project.clone()));
    }
    if !entries.is_empty() {
        gitops_bump::outputs::append_to_step(&entries)?;
    }
    let summary = AuthSummary::new(&stage, google);
    if args.json {
        print::json(
            Stream::Stdout,
            &serde_json::to_value(&summary).unwrap_or_default(),
        );
    } else {
        let none = || "(none)".to_string();
        let out = |text: String| print::line(Stream::Stdout, &text);
        out(format!("provider:          {}", summary.provider));
        out(format!("oidc audience:     {}", summary.oidc_audience));
        out(format!("sts audience:      {}", summary.sts_audience));
        out(format!(
            "acting as:         {}",
            summary
                .service_account
                .clone()
                .unwrap_or_else(|| "the federated principal (no service-account)".into())
        ));
        out(format!(
            "expires:           {}",
            summary.expire_time.clone().unwrap_or_else(none)
        ));
        out(format!("claims:            {}", summary.claims.summary()));
        out("access token:      *** (never printed)".to_string());
        if let Some(f) = &summary.credentials_file {
            out(format!("credentials file:  {f}"));
        }
        if let Some(f) = &summary.docker_config {
            out(format!("docker config:     {f}"));
        }
        if let Some(p) = &summary.project_id {
            out(format!("project:           {p}"));
        }
    }
    Ok(exit::OK)
}

fn promote(args: PromoteArgs) -> Result<i32, Error> {
    let mut raw = args.run.raw;
    raw.set("promote-from", args.from.to_string_lossy().into_owned());
    raw.set("promote-to", args.to.to_string_lossy().into_owned());
    if !args.only.is_empty() {
        raw.set("images", args.only.join("\n"));
    }
    let mut config = Config::from_raw(&raw)?;
    if let Some(tag) = args.tag {
        config.edit.retag_promoted(tag)?;
    }
    run_pipeline(&config)
}

/// Runs the pipeline in the current directory and reports its outputs.
fn run_pipeline(config: &Config) -> Result<i32, Error> {
    // The waits for the merge and the deploy have their own bounds, on top
    // of the run's.
    start_watchdog(
        config.timeout
            + config.wait.as_ref().map_or(Default::default(), |w| {
                w.timeout + w.merge_timeout.unwrap_or_default()
            }),
    );
    let workdir =
        std::env::current_dir().map_err(|e| Error::io("reading the current directory", e))?;
    let env = RunEnv::from_env();
    let outputs = gitops_bump::pipeline::run(config, &env, &workdir)?;
    outputs.emit(false)?;
    if config.outputs.summary {
        gitops_bump::outputs::write_summary(&outputs, &env.github)?;
    }
    // A failed wait fails the step after the outputs are written: the
    // commit is pushed either way.
    if let Some(failure) = outputs.deploy.and_then(|d| d.failure) {
        return Err(Error::Deploy(failure));
    }
    Ok(exit::OK)
}

/// Without `--root`, paths typed outside the current directory (an
/// absolute `--file /tmp/values.yaml`, or `../other/`) are edited, as
/// kustomize and yq users expect: the root becomes the deepest directory
/// holding them all (links leading out of it are still refused). `None`
/// when every path is inside the current directory, the usual root. `run`
/// (the action) always keeps the repository as its root.
fn root_for_outside_paths(cwd: &Path, files: &[PathBuf], dirs: &[PathBuf]) -> Option<PathBuf> {
    let holders: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            let f = normalize(&cwd.join(f));
            f.parent().map_or(f.clone(), Path::to_path_buf)
        })
        .chain(dirs.iter().map(|d| normalize(&cwd.join(d))))
        .collect();
    // A path into the current directory through a link is inside it; a
    // link inside it leading out stays for the walk to refuse.
    let real_cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
    let inside = |h: &PathBuf| {
        h.starts_with(cwd) || std::fs::canonicalize(h).is_ok_and(|real| real.starts_with(&real_cwd))
    };
    if holders.iter().all(inside) {
        return None;
    }
    let mut base = holders.first()?.clone();
    for h in &holders[1..] {
        while !h.starts_with(&base) && base.pop() {}
    }
    Some(base)
}

/// `a/./b/../c` → `a/c`, without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn set_image(args: SetImageArgs) -> Result<i32, Error> {
    let specs = args
        .specs
        .iter()
        .map(|s| ImageSpec::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let cwd = std::env::current_dir().map_err(|e| Error::io("reading the current directory", e))?;
    let mut paths = args.files.clone();
    paths.extend(args.dirs.iter().cloned());
    // Set when the paths lie outside the current directory: the root the
    // changes are shown under.
    let mut shown_under: Option<PathBuf> = None;
    let root = match args.root {
        // `--root` only confines: paths are still typed relative to the
        // current directory, as for every other command.
        Some(root) => {
            if paths.is_empty() {
                paths.push(root.clone());
            }
            for path in &mut paths {
                if path.is_relative() {
                    *path = cwd.join(&*path);
                }
            }
            root
        }
        None => match root_for_outside_paths(&cwd, &args.files, &args.dirs) {
            Some(base) => {
                paths = paths.iter().map(|p| normalize(&cwd.join(p))).collect();
                shown_under = Some(base.clone());
                base
            }
            None => cwd,
        },
    };
    if paths.is_empty() {
        paths.push(PathBuf::from("."));
    }
    let request = EditRequest {
        specs,
        values_paths: args.values_paths,
        image_kinds: args.image_kinds,
        allow_no_match: args.allow_no_match,
        max_file_size: args.max_file_size,
    };
    let mut report =
        workspace::apply(&root, &paths, &request, !args.check).map_err(|e| match &shown_under {
            Some(base) => e.shown_under(base),
            None => e,
        })?;
    if let Some(base) = &shown_under {
        let shown = |file: &mut String| *file = base.join(&*file).display().to_string();
        report.files.iter_mut().for_each(shown);
        report.changes.iter_mut().for_each(|c| shown(&mut c.file));
        report.warnings.iter_mut().for_each(|w| shown(&mut w.file));
    }
    workspace::print_warnings(&report.warnings);
    if args.json {
        print::json(
            Stream::Stdout,
            &serde_json::json!({ "changed": !report.files.is_empty(), "files": report.files, "changes": report.changes, "warnings": report.warnings }),
        );
    } else {
        for c in &report.changes {
            // A new kustomize entry has no old value.
            let old = if c.old.is_empty() {
                "(new entry)".to_string()
            } else {
                print::value(&c.old)
            };
            print::line(
                Stream::Stdout,
                &format!(
                    "{}:{}:{}: {old} -> {}",
                    c.file,
                    c.line,
                    c.column,
                    print::value(&c.new)
                ),
            );
        }
        if report.changes.is_empty() {
            print::line(
                Stream::Stderr,
                "no changes: every image is already up to date",
            );
        }
    }
    Ok(if args.check && !report.files.is_empty() {
        exit::DRIFT
    } else {
        exit::OK
    })
}

fn resolve(args: ResolveArgs) -> Result<i32, Error> {
    let references = args
        .references
        .iter()
        .map(|r| Reference::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    if args.parse_only {
        for r in &references {
            if args.json {
                print::json(
                    Stream::Stdout,
                    &serde_json::json!({
                        "registry": r.name.registry,
                        "repository": r.name.repository,
                        "tag": r.tag,
                        "digest": r.digest.as_ref().map(|d| d.to_string()),
                        "normalized": r.to_string(),
                    }),
                );
            } else {
                print::line(Stream::Stdout, &r.to_string());
            }
        }
        return Ok(exit::OK);
    }
    // The same inputs as the action (INPUT_REGISTRY-USERNAME, …), through
    // the same builder, so `resolve` in a workflow step sees what the
    // pipeline would; the flags win.
    let mut raw = RawInputs::from_env();
    if !args.platforms.is_empty() {
        raw.set("platforms", args.platforms.join("\n"));
    }
    if !args.insecure_registries.is_empty() {
        raw.set("insecure-registries", args.insecure_registries.join("\n"));
    }
    if let Some(wait) = args.wait {
        raw.set("wait", wait);
    }
    let verify = VerifyOptions::from_raw(
        &raw,
        references.iter().map(|r| r.name.registry.clone()),
        false,
    )?;
    let options = verify.registry_options(None);
    let resolved = gitops_bump::http::block_on(gitops_bump::registry::resolve_all(
        &options,
        &references,
        &verify.platforms,
        None,
    ))
    .map_err(|e| Error::io("starting the async runtime", e))??;
    for (r, reference) in resolved.iter().zip(&references) {
        if args.json {
            print::json(Stream::Stdout, &serde_json::to_value(r).unwrap_or_default());
        } else {
            // The pinned reference: usable as is, and says which input it answers.
            let mut name = reference.name.to_string();
            if let Some(tag) = &r.tag {
                name = format!("{name}:{tag}");
            }
            print::line(Stream::Stdout, &format!("{name}@{}", r.digest));
            if !r.platforms.is_empty() {
                let platforms: Vec<String> = r.platforms.iter().map(|p| print::value(p)).collect();
                print::line(
                    Stream::Stderr,
                    &format!(
                        "  {} ({})",
                        print::value(&r.media_type),
                        platforms.join(", ")
                    ),
                );
            }
        }
    }
    Ok(exit::OK)
}
