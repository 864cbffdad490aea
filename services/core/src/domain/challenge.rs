//! A challenge as an organizer writes it (the spec file) and the rules that make it valid.
//!
//! The spec is parsed strictly (`deny_unknown_fields`, so a typo is named, not ignored) and then
//! [`ChallengeSpec::validate`] reports every problem at once, each with the field's path, what is
//! wrong and how to fix it.
//!
//! The spec's value types (metrics, phases, quotas, resources, node type) and [`FieldError`] are
//! the API's too, so they are defined once, in `darkroom_api`, and re-exported here; what stays
//! is the spec document and its rules (validation, phase windows).
//!
//! One file on purpose (about 510 lines of code, tests below): each rule's message sits beside
//! the field it checks, and the validator reports every problem of a spec at once.

use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use darkroom_api::{
    Aggregate, DEFAULT_FINAL_SELECTIONS, DEFAULT_OUTPUT_MAX_DEPTH, DEFAULT_OUTPUT_MAX_FILES, Direction, EnrollmentMode,
    Feedback, FieldError, Metric, NodeType, Phase, Quotas, Resources, Reveal, TreeFingerprint,
};

use super::image::validate_image_reference;

/// The whole challenge definition, as read from TOML, YAML or JSON.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeSpec {
    /// URL identifier: 3–64 characters of `a-z`, `0-9` and `-`.
    pub slug: String,
    pub title: String,
    /// Markdown shown to participants.
    pub description: String,
    pub dataset: Dataset,
    pub ground_truth: GroundTruth,
    pub evaluation: Evaluation,
    /// Every metric the evaluation image writes into `score.json`.
    pub metrics: Vec<Metric>,
    /// The metric that orders the leaderboard; one of `metrics[].name`.
    pub rank_by: String,
    pub phases: Vec<Phase>,
    #[serde(default)]
    pub quotas: Quotas,
    pub resources: Resources,
    #[serde(default)]
    pub node_type: NodeType,
    /// Whether participants may read their own containers' logs. Off for confidential data.
    #[serde(default)]
    pub logs_visible: bool,
    /// How participants join: `open` (default), `invite` (with a code the organizer mints) or
    /// `approval` (the organizer approves each one). Everyone joins before submitting.
    #[serde(default)]
    pub enrollment: EnrollmentMode,
    /// The rules a participant accepts by joining (Markdown); absent: the description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<String>,
    /// Most members of a team (default 1: no teams, everyone competes alone).
    #[serde(default = "one_member")]
    pub max_team_size: u32,
    /// After this, teams no longer change members (joins and merges refused); absent: they may
    /// until the challenge ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_deadline: Option<DateTime<Utc>>,
    /// Credentials for reading participants' images from a private registry when they submit
    /// by name. Never shown: API answers carry [`ChallengeSpec::redacted`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistryCredentials>,
}

fn one_member() -> u32 {
    1
}

/// Teams larger than this are a different kind of event.
const MAX_TEAM_SIZE: u32 = 100;

/// A registry login the platform uses on participants' behalf to pin submitted names.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryCredentials {
    pub username: String,
    /// The password or token itself; prefer `password_file`, which keeps it out of the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A file on the submissions service's host holding the password (a Docker secret, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub password_file: Option<PathBuf>,
}

impl std::fmt::Debug for RegistryCredentials {
    // A password must not reach a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .finish()
    }
}

impl RegistryCredentials {
    /// The password, read from `password_file` when set.
    pub fn resolve_password(&self) -> Result<String, SpecError> {
        match (&self.password, &self.password_file) {
            (_, Some(path)) => std::fs::read_to_string(path)
                .map(|p| p.trim().to_owned())
                .map_err(|error| SpecError::PasswordFile { path: path.clone(), error }),
            (Some(p), None) => Ok(p.clone()),
            (None, None) => Err(SpecError::NoPassword),
        }
    }
}

/// Why a spec file could not be read as a spec, or its registry password not be found. (What
/// is wrong with a spec that parses is [`ChallengeSpec::validate`]'s list of [`FieldError`]s.)
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// TOML that is not a spec, in one line (toml's own text draws a multi-line snippet).
    #[error("{}{message}", position(.line_column))]
    Toml { line_column: Option<(usize, usize)>, message: String },
    #[error(transparent)]
    Yaml(serde_norway::Error),
    #[error(transparent)]
    Json(serde_json::Error),
    #[error("unknown spec format '{0}': use a .toml, .yaml, .yml or .json file")]
    UnknownFormat(String),
    #[error("cannot read registry.password_file '{}': {error}", path.display())]
    PasswordFile { path: PathBuf, error: std::io::Error },
    #[error("registry has a username but no password or password_file")]
    NoPassword,
}

fn position(line_column: &Option<(usize, usize)>) -> String {
    line_column.map(|(line, column)| format!("line {line}, column {column}: ")).unwrap_or_default()
}

/// The hidden dataset, mounted read-only at `/data` in the participant's container.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Absolute path on the worker nodes. Never shown to participants.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub host_path: PathBuf,
    /// What participants read about the data (format, splits, labels).
    #[serde(default)]
    pub description: String,
    /// Set by the platform when the challenge is applied (an organizer may give it to insist on
    /// one): see [`crate::fingerprint`]. Every run checks the data against it first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<TreeFingerprint>,
}

/// The hidden labels, seen only by the evaluation container.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundTruth {
    /// Absolute path on the worker nodes; must not lie inside the dataset.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub host_path: PathBuf,
    /// As [`Dataset::fingerprint`], checked before every evaluation; shown to the organizer
    /// only (a hash of a few hidden labels could be found by trying every labelling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<TreeFingerprint>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    /// The organizer's image that reads `/input/predictions` and `/input/ground-truth` and
    /// writes `/output/score.json`.
    pub image: String,
    /// The image id `image` named on the evaluators' engine when the challenge was applied,
    /// set by the platform (an organizer may give it to insist on one). Every evaluation checks
    /// that the name still points here and runs this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
}

/// Where `now` falls relative to a challenge's phases.
#[derive(Debug, Clone, PartialEq)]
pub enum PhaseWindow<'a> {
    Open(&'a Phase),
    NotYetOpen(&'a Phase),
    Between { next: &'a Phase },
    Closed { last: &'a Phase },
}

const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 100_000;
const MAX_CPUS: f64 = 256.0;
const MIN_MEMORY_MB: u64 = 16;
const MAX_WALL_CLOCK_SECONDS: u64 = 7 * 24 * 3600;
const MAX_GPUS: u32 = 16;
const MAX_OUTPUT_FILES: u64 = 1_000_000;
const MAX_OUTPUT_DEPTH: u32 = 64;
/// The most decimal places `rounded` feedback may show.
pub const MAX_DECIMALS: u32 = 12;

/// Whether a name is a lowercase identifier (`a-z0-9_`, starting with a letter), as metric and
/// phase names must be so they can be used in URLs and documents.
fn is_identifier(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

pub fn is_valid_slug(s: &str) -> bool {
    (3..=64).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl ChallengeSpec {
    /// Parses a spec file's text; `format` is `toml`, `yaml`/`yml` or `json`.
    pub fn parse(text: &str, format: &str) -> Result<Self, SpecError> {
        match format {
            "toml" => toml::from_str(text).map_err(|e| {
                let line_column = e.span().map(|span| {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    (line, column)
                });
                SpecError::Toml { line_column, message: e.message().trim().to_owned() }
            }),
            "yaml" | "yml" => serde_norway::from_str(text).map_err(SpecError::Yaml),
            "json" => serde_json::from_str(text).map_err(SpecError::Json),
            other => Err(SpecError::UnknownFormat(other.to_owned())),
        }
    }

    /// Every problem with the spec, checked against the local filesystem for the two host paths.
    /// The spec as the API shows it: the registry password left out (its file's path stays).
    pub fn redacted(mut self) -> Self {
        if let Some(r) = &mut self.registry {
            r.password = None;
        }
        self
    }

    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err = |field: &str, problem: String, fix: &str| {
            errors.push(FieldError::new(field, problem, fix));
        };

        if !is_valid_slug(&self.slug) {
            err(
                "slug",
                format!("'{}' is not a valid slug", self.slug),
                "use 3-64 characters of a-z, 0-9 and '-', not starting or ending with '-'",
            );
        }
        if self.title.trim().is_empty() {
            err("title", "is empty".into(), "give the challenge a title");
        } else if self.title.len() > MAX_TITLE {
            err("title", format!("is {} characters long", self.title.len()), "keep it under 200 characters");
        }
        if self.description.len() > MAX_DESCRIPTION {
            err("description", "is longer than 100,000 characters".into(), "shorten it or link to a page");
        }
        if self.rules.as_ref().is_some_and(|r| r.len() > MAX_DESCRIPTION) {
            err("rules", "is longer than 100,000 characters".into(), "shorten them or link to a page");
        }
        if !(1..=MAX_TEAM_SIZE).contains(&self.max_team_size) {
            err(
                "max_team_size",
                format!("{} is not between 1 and {MAX_TEAM_SIZE}", self.max_team_size),
                "give the most members a team may have (1: no teams)",
            );
        }
        if self.merge_deadline.is_some() && self.max_team_size <= 1 {
            err(
                "merge_deadline",
                "is set, but max_team_size is 1 (no teams)".into(),
                "raise max_team_size to allow teams, or remove merge_deadline",
            );
        }

        check_host_dir("dataset.host_path", &self.dataset.host_path, true, &mut err);
        check_host_dir("ground_truth.host_path", &self.ground_truth.host_path, false, &mut err);
        if self.ground_truth.host_path.is_absolute()
            && self.dataset.host_path.is_absolute()
            && self.ground_truth.host_path.starts_with(&self.dataset.host_path)
        {
            err(
                "ground_truth.host_path",
                "lies inside dataset.host_path, so participants could read the labels".into(),
                "keep the ground truth outside the dataset directory",
            );
        }

        if let Some(r) = &self.registry {
            if r.username.trim().is_empty() {
                err("registry.username", "is empty".into(), "give the registry account's user name");
            }
            if r.password.is_some() == r.password_file.is_some() {
                err(
                    "registry",
                    "needs exactly one of password and password_file".into(),
                    "set password_file to a file holding the password (or password itself)",
                );
            }
        }

        if let Err(problem) = validate_image_reference(&self.evaluation.image) {
            err(
                "evaluation.image",
                problem.to_string(),
                "name an image such as 'my-eval:1.0' or 'registry:5000/eval@sha256:…'",
            );
        }

        if self.metrics.is_empty() {
            err("metrics", "is empty".into(), "declare at least one metric with a name and a direction");
        }
        for (i, m) in self.metrics.iter().enumerate() {
            if !is_identifier(&m.name, 64) {
                err(
                    &format!("metrics[{i}].name"),
                    format!("'{}' is not a valid metric name", m.name),
                    "use up to 64 characters of a-z, 0-9, '_' and '-', starting with a letter",
                );
            }
            if self.metrics[..i].iter().any(|o| o.name == m.name) {
                err(
                    &format!("metrics[{i}].name"),
                    format!("'{}' is declared twice", m.name),
                    "give each metric a distinct name",
                );
            }
            if let Some(t) = m.rerun_tolerance
                && !(t.is_finite() && t >= 0.0)
            {
                err(
                    &format!("metrics[{i}].rerun_tolerance"),
                    format!("{t} is not a tolerance"),
                    "write the largest absolute difference a re-run may show, a number >= 0 (0: exactly equal), or \
                     leave it out",
                );
            }
        }
        if !self.metrics.iter().any(|m| m.name == self.rank_by) {
            err(
                "rank_by",
                format!("'{}' is not one of the declared metrics", self.rank_by),
                "set rank_by to the name of one entry in metrics",
            );
        }

        if self.phases.is_empty() {
            err("phases", "is empty".into(), "declare at least one phase with starts_at and ends_at");
        }
        for (i, p) in self.phases.iter().enumerate() {
            if !is_identifier(&p.name, 64) {
                err(
                    &format!("phases[{i}].name"),
                    format!("'{}' is not a valid phase name", p.name),
                    "use up to 64 characters of a-z, 0-9, '_' and '-', starting with a letter",
                );
            }
            if self.phases[..i].iter().any(|o| o.name == p.name) {
                err(
                    &format!("phases[{i}].name"),
                    format!("'{}' is declared twice", p.name),
                    "give each phase a distinct name",
                );
            }
            if p.ends_at <= p.starts_at {
                err(
                    &format!("phases[{i}].ends_at"),
                    format!("{} is not after starts_at {}", p.ends_at.to_rfc3339(), p.starts_at.to_rfc3339()),
                    "make the phase end after it starts",
                );
            }
            self.check_phase_settings(i, p, &mut err);
            for (j, o) in self.phases[..i].iter().enumerate() {
                if p.starts_at < o.ends_at && o.starts_at < p.ends_at {
                    err(
                        &format!("phases[{i}]"),
                        format!("'{}' overlaps phase '{}' (phases[{j}])", p.name, o.name),
                        "phases must not overlap: end one before the next starts",
                    );
                }
            }
        }

        if self.quotas.per_day == Some(0) {
            err(
                "quotas.per_day",
                "is 0, so nobody could submit".into(),
                "set at least 1, or remove it for no daily limit",
            );
        }
        if self.quotas.total == Some(0) {
            err("quotas.total", "is 0, so nobody could submit".into(), "set at least 1, or remove it for no limit");
        }
        if let (Some(d), Some(t)) = (self.quotas.per_day, self.quotas.total)
            && d > t
        {
            err("quotas.per_day", format!("{d} is larger than quotas.total {t}"), "make per_day at most total");
        }

        let r = &self.resources;
        if !(r.cpus.is_finite() && r.cpus > 0.0 && r.cpus <= MAX_CPUS) {
            err(
                "resources.cpus",
                format!("{} is not between 0 and 256", r.cpus),
                "give a positive number of CPUs, such as 1 or 0.5",
            );
        }
        if r.memory_mb < MIN_MEMORY_MB {
            err(
                "resources.memory_mb",
                format!("{} MB is too little to start a container", r.memory_mb),
                "give at least 16 (MB)",
            );
        }
        if r.wall_clock_seconds == 0 || r.wall_clock_seconds > MAX_WALL_CLOCK_SECONDS {
            err(
                "resources.wall_clock_seconds",
                format!("{} is not between 1 and 604800 (7 days)", r.wall_clock_seconds),
                "give the longest a run may take, in seconds",
            );
        }
        if r.output_max_mb == 0 {
            err("resources.output_max_mb", "is 0, so no run could write predictions".into(), "give at least 1 (MB)");
        }
        if r.output_max_files == 0 || r.output_max_files > MAX_OUTPUT_FILES {
            err(
                "resources.output_max_files",
                format!("{} is not between 1 and 1000000", r.output_max_files),
                "give how many files /output may hold, such as 10000",
            );
        }
        if r.output_max_depth == 0 || r.output_max_depth > MAX_OUTPUT_DEPTH {
            err(
                "resources.output_max_depth",
                format!("{} is not between 1 and 64", r.output_max_depth),
                "give how deep /output may go, such as 32",
            );
        }
        if r.pids < 8 {
            err(
                "resources.pids",
                format!("{} is too few processes to run anything", r.pids),
                "give at least 8, such as 256",
            );
        }
        if r.gpus > MAX_GPUS {
            err("resources.gpus", format!("{} is more than 16", r.gpus), "request at most 16 GPUs");
        }
        if r.gpus > 0 && self.node_type != NodeType::Gpu {
            err(
                "node_type",
                format!("is '{}' but resources.gpus is {}", self.node_type.label_value(), r.gpus),
                "set node_type = \"gpu\" so the run lands on a node that has GPUs",
            );
        }
        errors
    }

    /// The evaluation contract v2 settings of `phases[i]`: each rule names the field and the fix.
    fn check_phase_settings(&self, i: usize, p: &Phase, err: &mut impl FnMut(&str, String, &str)) {
        match (p.feedback, p.decimals) {
            (Feedback::Rounded, None) => err(
                &format!("phases[{i}].decimals"),
                "is missing, but feedback is \"rounded\"".into(),
                "give the decimal places participants see, such as decimals = 3",
            ),
            (_, Some(d)) if d > MAX_DECIMALS => err(
                &format!("phases[{i}].decimals"),
                format!("{d} is not between 0 and {MAX_DECIMALS}"),
                "give between 0 and 12 decimal places",
            ),
            _ => {}
        }
        if p.feedback == Feedback::Ladder {
            if !p.private_split {
                err(
                    &format!("phases[{i}].feedback"),
                    "is \"ladder\" but private_split is off: the Ladder protects a private split".into(),
                    "set private_split = true on the phase (the evaluation then writes both splits)",
                );
            }
            if !self.metric(&self.rank_by).is_some_and(Metric::is_mean) {
                err(
                    &format!("phases[{i}].feedback"),
                    format!(
                        "is \"ladder\" but the rank_by metric '{}' is not declared aggregate = \"mean\"",
                        self.rank_by
                    ),
                    "declare aggregate = \"mean\" on the ranking metric (the Ladder compares per-case values), or \
                     choose feedback = \"raw\" or \"rounded\"",
                );
            }
        }
        if p.final_selections == 0 {
            err(
                &format!("phases[{i}].final_selections"),
                "is 0, so no submission could count in the final ranking".into(),
                "give at least 1, or remove it for the default of 2",
            );
        }
    }

    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }

    pub fn phase(&self, name: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.name == name)
    }

    /// Where `now` falls among the phases (which validation keeps ordered-free and disjoint).
    pub fn phase_window(&self, now: DateTime<Utc>) -> Option<PhaseWindow<'_>> {
        let mut sorted: Vec<&Phase> = self.phases.iter().collect();
        sorted.sort_by_key(|p| p.starts_at);
        if let Some(open) = sorted.iter().find(|p| p.starts_at <= now && now < p.ends_at) {
            return Some(PhaseWindow::Open(open));
        }
        let first = sorted.first()?;
        if now < first.starts_at {
            return Some(PhaseWindow::NotYetOpen(first));
        }
        match sorted.iter().find(|p| p.starts_at > now) {
            Some(next) => Some(PhaseWindow::Between { next }),
            None => Some(PhaseWindow::Closed { last: sorted.last()? }),
        }
    }

    /// The phase whose leaderboard is shown by default: the open one, else the latest started.
    pub fn current_or_last_phase(&self, now: DateTime<Utc>) -> Option<&Phase> {
        match self.phase_window(now)? {
            PhaseWindow::Open(p) => Some(p),
            PhaseWindow::NotYetOpen(p) => Some(p),
            PhaseWindow::Between { .. } | PhaseWindow::Closed { .. } => {
                self.phases.iter().filter(|p| p.starts_at <= now).max_by_key(|p| p.starts_at)
            }
        }
    }
}

fn check_host_dir(field: &str, path: &Path, must_be_dir: bool, err: &mut impl FnMut(&str, String, &str)) {
    if !path.is_absolute() {
        err(
            field,
            format!("'{}' is not an absolute path", path.display()),
            "give the absolute path on the worker nodes, such as /srv/darkroom/data",
        );
        return;
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        err(field, format!("'{}' contains '..'", path.display()), "give the path without '..' segments");
        return;
    }
    match std::fs::metadata(path) {
        Err(e) => {
            err(field, format!("'{}' cannot be read: {e}", path.display()), "create it on this host or fix the path")
        }
        Ok(m) if must_be_dir && !m.is_dir() => err(
            field,
            format!("'{}' is not a directory", path.display()),
            "point it at the directory that holds the data",
        ),
        Ok(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(dir: &Path) -> ChallengeSpec {
        let data = dir.join("data");
        let truth = dir.join("truth");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&truth).unwrap();
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        ChallengeSpec {
            slug: "nuclei".into(),
            title: "Nuclei".into(),
            description: "d".into(),
            dataset: Dataset { host_path: data, description: String::new(), fingerprint: None },
            ground_truth: GroundTruth { host_path: truth, fingerprint: None },
            evaluation: Evaluation { image: "eval:1".into(), image_id: None },
            metrics: vec![Metric::new("accuracy", Direction::HigherIsBetter)],
            rank_by: "accuracy".into(),
            phases: vec![
                Phase::new("dev", t0, t0 + chrono::Duration::days(10)),
                Phase::new("final", t0 + chrono::Duration::days(20), t0 + chrono::Duration::days(30)),
            ],
            quotas: Quotas { per_day: Some(2), total: Some(10) },
            resources: Resources { pids: 64, ..Resources::new(1.0, 512, 60, 10) },
            node_type: NodeType::Cpu,
            logs_visible: false,
            enrollment: EnrollmentMode::Open,
            rules: None,
            max_team_size: 1,
            merge_deadline: None,
            registry: None,
        }
    }

    #[test]
    fn registry_credentials_need_one_password_and_never_show_it() {
        let dir = tmp();
        let mut spec = sample(&dir);
        let creds = |password: Option<&str>, file: Option<&str>| RegistryCredentials {
            username: "bot".into(),
            password: password.map(Into::into),
            password_file: file.map(Into::into),
        };
        spec.registry = Some(creds(None, None));
        assert!(spec.validate().iter().any(|e| e.field == "registry"));
        spec.registry = Some(creds(Some("s3cret-pw"), Some("/f")));
        assert!(spec.validate().iter().any(|e| e.field == "registry"));
        spec.registry = Some(creds(Some("s3cret-pw"), None));
        assert!(spec.validate().iter().all(|e| !e.field.starts_with("registry")));
        assert!(!format!("{spec:?}").contains("s3cret-pw"));
        let shown = serde_json::to_string(&spec.clone().redacted()).unwrap();
        assert!(!shown.contains("s3cret-pw") && shown.contains("bot"), "{shown}");
        assert_eq!(spec.registry.unwrap().resolve_password().unwrap(), "s3cret-pw");
        let missing = creds(None, Some("/no/such/password"));
        let e = missing.resolve_password().unwrap_err().to_string();
        assert!(e.starts_with("cannot read registry.password_file '/no/such/password': "), "{e}");
        assert_eq!(
            creds(None, None).resolve_password().unwrap_err().to_string(),
            "registry has a username but no password or password_file"
        );
    }

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!("darkroom-core-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_good_spec_has_no_errors() {
        assert_eq!(sample(&tmp()).validate(), vec![]);
    }

    #[test]
    fn each_bad_field_is_named() {
        let dir = tmp();
        type Mutation = Box<dyn Fn(&mut ChallengeSpec)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("slug", Box::new(|s| s.slug = "Bad Slug".into())),
            ("title", Box::new(|s| s.title = " ".into())),
            ("dataset.host_path", Box::new(|s| s.dataset.host_path = "relative/path".into())),
            ("dataset.host_path", Box::new(|s| s.dataset.host_path = "/does/not/exist".into())),
            ("ground_truth.host_path", Box::new(|s| s.ground_truth.host_path = s.dataset.host_path.join("x"))),
            ("evaluation.image", Box::new(|s| s.evaluation.image = "UPPER/Case".into())),
            ("metrics", Box::new(|s| s.metrics.clear())),
            ("metrics[0].rerun_tolerance", Box::new(|s| s.metrics[0].rerun_tolerance = Some(-0.1))),
            ("metrics[0].rerun_tolerance", Box::new(|s| s.metrics[0].rerun_tolerance = Some(f64::INFINITY))),
            ("rank_by", Box::new(|s| s.rank_by = "auc".into())),
            ("phases[1]", Box::new(|s| s.phases[1].starts_at = s.phases[0].starts_at)),
            ("phases[0].ends_at", Box::new(|s| s.phases[0].ends_at = s.phases[0].starts_at)),
            ("quotas.per_day", Box::new(|s| s.quotas.per_day = Some(0))),
            ("quotas.per_day", Box::new(|s| s.quotas.per_day = Some(11))),
            ("resources.cpus", Box::new(|s| s.resources.cpus = f64::NAN)),
            ("resources.memory_mb", Box::new(|s| s.resources.memory_mb = 0)),
            ("resources.wall_clock_seconds", Box::new(|s| s.resources.wall_clock_seconds = 0)),
            ("resources.output_max_mb", Box::new(|s| s.resources.output_max_mb = 0)),
            ("resources.output_max_files", Box::new(|s| s.resources.output_max_files = 0)),
            ("resources.output_max_depth", Box::new(|s| s.resources.output_max_depth = 65)),
            ("node_type", Box::new(|s| s.resources.gpus = 1)),
            ("phases[0].decimals", Box::new(|s| s.phases[0].feedback = Feedback::Rounded)),
            ("phases[1].decimals", Box::new(|s| s.phases[1].decimals = Some(13))),
            ("phases[0].final_selections", Box::new(|s| s.phases[0].final_selections = 0)),
        ];
        for (field, mutate) in cases {
            let mut spec = sample(&dir);
            mutate(&mut spec);
            let errors = spec.validate();
            assert!(errors.iter().any(|e| e.field == field), "expected an error on {field}, got {errors:?}");
        }
    }

    #[test]
    fn the_ladder_needs_a_private_split_and_a_mean_ranking_metric() {
        let mut spec = sample(&tmp());
        spec.phases[0].feedback = Feedback::Ladder;
        let messages: Vec<String> = spec.validate().iter().map(|e| format!("{}: {}", e.field, e.problem)).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("phases[0].feedback: is \"ladder\" but private_split is off"), "{messages:?}");
        assert!(messages[1].contains("'accuracy' is not declared aggregate = \"mean\""), "{messages:?}");
        spec.phases[0].private_split = true;
        spec.metrics[0].aggregate = Some(Aggregate::Mean);
        assert_eq!(spec.validate(), vec![]);
        spec.phases[1].feedback = Feedback::Rounded;
        spec.phases[1].decimals = Some(0);
        assert_eq!(spec.validate(), vec![]);
    }

    #[test]
    fn specs_without_the_phase_settings_keep_todays_behaviour() {
        let toml = r#"
            slug = "s-1"
            title = "t"
            description = "d"
            rank_by = "acc"
            dataset = { host_path = "/d" }
            ground_truth = { host_path = "/g" }
            evaluation = { image = "e:1" }
            resources = { cpus = 1.0, memory_mb = 64, wall_clock_seconds = 10, output_max_mb = 1 }
            [[metrics]]
            name = "acc"
            direction = "higher_is_better"
            [[phases]]
            name = "dev"
            starts_at = "2026-01-01T00:00:00Z"
            ends_at = "2026-02-01T00:00:00Z"
        "#;
        let spec = ChallengeSpec::parse(toml, "toml").unwrap();
        assert_eq!(spec.phases[0], Phase::new("dev", spec.phases[0].starts_at, spec.phases[0].ends_at));
        assert_eq!(spec.metrics[0], Metric::new("acc", Direction::HigherIsBetter));
        let yaml = "slug: s-1\ntitle: t\ndescription: d\nrank_by: acc\ndataset: {host_path: /d}\n\
                    ground_truth: {host_path: /g}\nevaluation: {image: 'e:1'}\n\
                    resources: {cpus: 1.0, memory_mb: 64, wall_clock_seconds: 10, output_max_mb: 1}\n\
                    metrics: [{name: acc, direction: higher_is_better, aggregate: mean}]\n\
                    phases: [{name: dev, starts_at: '2026-01-01T00:00:00Z', ends_at: '2026-02-01T00:00:00Z', \
                    private_split: true, feedback: ladder, reveal: manual, final_selections: 3}]\n";
        let spec = ChallengeSpec::parse(yaml, "yaml").unwrap();
        assert!(spec.metrics[0].is_mean());
        let p = &spec.phases[0];
        assert_eq!(
            (p.private_split, p.feedback, p.reveal, p.final_selections),
            (true, Feedback::Ladder, Reveal::Manual, 3)
        );
    }

    #[test]
    fn the_demo_spec_uses_a_private_split_and_a_mean_metric() {
        let spec = ChallengeSpec::parse(include_str!("../../../../demo/challenge.toml"), "toml").unwrap();
        assert!(spec.phases[0].private_split && spec.metric(&spec.rank_by).unwrap().is_mean());
        // Only the host paths (relative until the CLI resolves them) are left to fix.
        let errors = spec.validate();
        assert!(errors.iter().all(|e| e.field.ends_with("host_path")), "{errors:?}");
    }

    #[test]
    fn unknown_fields_and_directions_are_rejected_by_the_parser() {
        let err = ChallengeSpec::parse("slug = 'a'\ntitel = 'x'", "toml").unwrap_err().to_string();
        assert!(err.starts_with("line 2, column 1: unknown field `titel`"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        let err = serde_json::from_str::<Direction>("\"bigger\"").unwrap_err().to_string();
        assert!(err.contains("higher_is_better"), "{err}");
    }

    #[test]
    fn phase_window_finds_open_between_and_closed() {
        let spec = sample(&tmp());
        let t0 = spec.phases[0].starts_at;
        let day = chrono::Duration::days(1);
        assert!(matches!(spec.phase_window(t0 - day), Some(PhaseWindow::NotYetOpen(p)) if p.name == "dev"));
        assert!(matches!(spec.phase_window(t0 + day), Some(PhaseWindow::Open(p)) if p.name == "dev"));
        assert!(
            matches!(spec.phase_window(t0 + day * 15), Some(PhaseWindow::Between { next }) if next.name == "final")
        );
        assert!(matches!(spec.phase_window(t0 + day * 40), Some(PhaseWindow::Closed { last }) if last.name == "final"));
        assert_eq!(spec.current_or_last_phase(t0 + day * 15).unwrap().name, "dev");
    }
}
