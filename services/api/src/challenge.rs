//! Challenges as the API shows them, and the value types of a challenge's spec.
//!
//! [`Metric`], [`Direction`], [`Phase`], [`Quotas`], [`Resources`] and [`NodeType`] are the
//! spec's own fields (the spec, in `darkroom_core::domain`, is built from them), so they deny
//! unknown fields: an organizer's typo is named, not ignored. The public view of a challenge
//! ([`PublicChallenge`]) carries them as they are, never the host paths or the evaluation image.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a challenge stands now: a phase is open, one is yet to come, or all have ended.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeStatus {
    Open,
    Upcoming,
    Closed,
}

impl ChallengeStatus {
    /// The word, as on the wire: `open`, `upcoming`, `closed`.
    pub fn label(self) -> &'static str {
        match self {
            ChallengeStatus::Open => "open",
            ChallengeStatus::Upcoming => "upcoming",
            ChallengeStatus::Closed => "closed",
        }
    }
}

/// `GET /challenges[?status=]`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ChallengeStatus>,
}

/// A line of `GET /challenges`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeSummary {
    pub slug: String,
    pub title: String,
    pub status: ChallengeStatus,
    /// The open phase, else the latest started, else the first to come.
    pub current_phase: Option<String>,
}

/// `GET /challenges/{slug}`: what anyone may read of a challenge.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicChallenge {
    pub slug: String,
    pub title: String,
    /// Markdown.
    pub description: String,
    pub status: ChallengeStatus,
    pub dataset_description: String,
    pub metrics: Vec<Metric>,
    /// The metric that orders the leaderboard; one of `metrics[].name`.
    pub rank_by: String,
    pub phases: Vec<Phase>,
    pub quotas: Quotas,
    pub resources: Resources,
    pub node_type: NodeType,
    /// Whether participants may read their own runs' logs.
    pub logs_visible: bool,
    /// How participants join (they accept [`Self::rules`] by joining).
    #[serde(default)]
    pub enrollment: crate::EnrollmentMode,
    /// Markdown; where absent, the description is the rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<String>,
    /// Most members of a team; 1: no teams.
    #[serde(default = "one")]
    pub max_team_size: u32,
    /// After this, teams no longer change members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_deadline: Option<DateTime<Utc>>,
    /// The dataset's fingerprint, taken when the challenge was applied; every run checks the
    /// data against it first. Absent for a challenge applied before fingerprints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_fingerprint: Option<TreeFingerprint>,
    /// The organizer's newest announcement, where there is one (all of them:
    /// `GET /challenges/{slug}/announcements`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_announcement: Option<crate::AnnouncementHeadline>,
}

/// The fingerprint of a folder of hidden data: SHA-256 over the sorted list of (relative path,
/// size, SHA-256 of contents) of its files, as `darkroom_core::fingerprint` computes it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeFingerprint {
    /// Lowercase hex SHA-256.
    pub digest: String,
    /// How many files it covers.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
}

fn one() -> u32 {
    1
}

impl PublicChallenge {
    /// What a participant accepts by joining: the rules, or the description where there are
    /// none.
    pub fn rules_text(&self) -> &str {
        self.rules.as_deref().unwrap_or(&self.description)
    }
}

/// One metric the evaluation image writes into `score.json`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// Key in `score.json`: `a-z`, `0-9`, `_`, starting with a letter.
    pub name: String,
    pub direction: Direction,
    /// How the metric is computed from the test cases. `mean`: it is the mean of a per-case
    /// value, which the evaluation image may write into `cases.csv` (the Ladder needs that).
    /// Absent: not said (any other formula, such as ROC AUC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Aggregate>,
    /// How far a verification re-run's value may be from the recorded one (absolute) and still
    /// count as reproduced, for an evaluation or a model that is not bit-for-bit deterministic.
    /// Absent: the re-run must give the very same value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_tolerance: Option<f64>,
}

impl Metric {
    /// A metric with no aggregate and no re-run tolerance declared.
    pub fn new(name: impl Into<String>, direction: Direction) -> Self {
        Self { name: name.into(), direction, aggregate: None, rerun_tolerance: None }
    }

    /// Whether the metric is declared the mean of its per-case values.
    pub fn is_mean(&self) -> bool {
        self.aggregate == Some(Aggregate::Mean)
    }
}

/// How a metric is computed from the per-case values the evaluation writes into `cases.csv`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The metric is the arithmetic mean of the per-case values (accuracy, MAE, log loss…).
    Mean,
}

/// Which way a metric improves.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    HigherIsBetter,
    LowerIsBetter,
}

impl Direction {
    /// True when `a` ranks strictly before `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::HigherIsBetter => a > b,
            Direction::LowerIsBetter => a < b,
        }
    }

    /// For people: `higher is better`.
    pub fn label(self) -> &'static str {
        match self {
            Direction::HigherIsBetter => "higher is better",
            Direction::LowerIsBetter => "lower is better",
        }
    }
}

/// A time window in which submissions are accepted; leaderboards are per phase.
///
/// The settings after the window say how the phase is scored and shown (evaluation contract
/// v2, `docs/evaluation-contract.md`); each is optional and its default is the behaviour from
/// before they existed. None is secret: the public view of a challenge shows them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The evaluation writes a public and a private split (`{"public": {…}, "private": {…}}`);
    /// private values are sealed until the reveal. Off: one score, all of it public.
    #[serde(default)]
    pub private_split: bool,
    /// What participants see of the public score.
    #[serde(default)]
    pub feedback: Feedback,
    /// Decimal places of the public score in `rounded` feedback (0 to 12); required there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    /// How many submissions a participant may select for the final (private) ranking.
    #[serde(default = "default_final_selections")]
    pub final_selections: u32,
    /// When the private board is published: at the phase's close, or by the organizer.
    #[serde(default)]
    pub reveal: Reveal,
}

fn default_final_selections() -> u32 {
    DEFAULT_FINAL_SELECTIONS
}

/// How many submissions a participant selects for the final ranking unless the phase says.
pub const DEFAULT_FINAL_SELECTIONS: u32 = 2;

impl Phase {
    /// A phase with every setting at its default (today's behaviour).
    pub fn new(name: impl Into<String>, starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Self {
        Self {
            name: name.into(),
            starts_at,
            ends_at,
            private_split: false,
            feedback: Feedback::Raw,
            decimals: None,
            final_selections: DEFAULT_FINAL_SELECTIONS,
            reveal: Reveal::AtClose,
        }
    }
}

/// What participants see of the public score after each submission.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feedback {
    /// The score as the evaluation wrote it.
    #[default]
    Raw,
    /// The score rounded on the server to the phase's `decimals`.
    Rounded,
    /// Blum & Hardt's Ladder: a new score is released only when it improves significantly.
    Ladder,
}

impl Feedback {
    /// The word, as on the wire: `raw`, `rounded`, `ladder`.
    pub fn label(self) -> &'static str {
        match self {
            Feedback::Raw => "raw",
            Feedback::Rounded => "rounded",
            Feedback::Ladder => "ladder",
        }
    }
}

/// When a phase's private board is published.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reveal {
    /// As soon as the phase closes.
    #[default]
    AtClose,
    /// When the organizer reveals it.
    Manual,
}

/// Submission limits per participant and phase. Absent means unlimited.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// At most this many submissions in any rolling 24 hours.
    pub per_day: Option<u32>,
    /// At most this many submissions in the whole phase.
    pub total: Option<u32>,
}

/// Limits of the participant's container.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub cpus: f64,
    pub memory_mb: u64,
    #[serde(default)]
    pub gpus: u32,
    pub wall_clock_seconds: u64,
    pub output_max_mb: u64,
    #[serde(default = "default_pids")]
    pub pids: u32,
    /// Entries (files and folders) `/output` may hold.
    #[serde(default = "default_output_max_files")]
    pub output_max_files: u64,
    /// How deep a path under `/output` may go (`a/b/c.csv` is 3 deep).
    #[serde(default = "default_output_max_depth")]
    pub output_max_depth: u32,
    /// Run images whose USER is root (or unset) as root. Off by default: such images run as
    /// uid/gid 65534 (`nobody`), and named users too (their uid is the image's to choose).
    #[serde(default)]
    pub allow_root: bool,
}

fn default_pids() -> u32 {
    256
}

/// Files (any entry: regular file, folder, link…) `/output` may hold unless the spec says.
pub const DEFAULT_OUTPUT_MAX_FILES: u64 = 10_000;
/// How deep a path under `/output` may go unless the spec says (`a/b/c` is 3 deep).
pub const DEFAULT_OUTPUT_MAX_DEPTH: u32 = 32;

fn default_output_max_files() -> u64 {
    DEFAULT_OUTPUT_MAX_FILES
}

fn default_output_max_depth() -> u32 {
    DEFAULT_OUTPUT_MAX_DEPTH
}

impl Resources {
    /// The defaults of every optional field, with the required ones given.
    pub fn new(cpus: f64, memory_mb: u64, wall_clock_seconds: u64, output_max_mb: u64) -> Self {
        Self {
            cpus,
            memory_mb,
            gpus: 0,
            wall_clock_seconds,
            output_max_mb,
            pids: default_pids(),
            output_max_files: default_output_max_files(),
            output_max_depth: default_output_max_depth(),
            allow_root: false,
        }
    }
}

/// The Swarm node label a run is placed on: `darkroom.node=<value>`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeType {
    #[default]
    Cpu,
    Highcpu,
    Highmem,
    Gpu,
}

impl NodeType {
    /// The label's value, as on the wire: `cpu`, `highcpu`, `highmem`, `gpu`.
    pub fn label_value(self) -> &'static str {
        match self {
            NodeType::Cpu => "cpu",
            NodeType::Highcpu => "highcpu",
            NodeType::Highmem => "highmem",
            NodeType::Gpu => "gpu",
        }
    }
}

/// `GET /challenges/{slug}/dataset`: names and sizes, relative to the dataset's root; never
/// contents, never the host path.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetListing {
    pub description: String,
    pub files: Vec<DatasetFile>,
    pub file_count: u64,
    pub total_bytes: u64,
    /// True when there were more files than the listing shows.
    pub truncated: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetFile {
    pub path: String,
    pub size_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_types_keep_their_spelling() {
        let m = Metric::new("mae", Direction::LowerIsBetter);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"name":"mae","direction":"lower_is_better"}"#);
        let m = Metric { aggregate: Some(Aggregate::Mean), ..m };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"name":"mae","direction":"lower_is_better","aggregate":"mean"}"#
        );
        assert_eq!(serde_json::to_string(&NodeType::Highmem).unwrap(), r#""highmem""#);
        assert_eq!(serde_json::to_string(&ChallengeStatus::Upcoming).unwrap(), r#""upcoming""#);
        assert_eq!(
            serde_json::to_string(&Resources::new(1.5, 512, 60, 10)).unwrap(),
            r#"{"cpus":1.5,"memory_mb":512,"gpus":0,"wall_clock_seconds":60,"output_max_mb":10,"pids":256,"output_max_files":10000,"output_max_depth":32,"allow_root":false}"#
        );
    }

    #[test]
    fn resources_written_before_the_output_and_root_limits_still_decode() {
        let old = r#"{"cpus":1.0,"memory_mb":64,"gpus":0,"wall_clock_seconds":10,"output_max_mb":1,"pids":32}"#;
        let r: Resources = serde_json::from_str(old).unwrap();
        assert_eq!((r.output_max_files, r.output_max_depth, r.allow_root), (10_000, 32, false));
    }

    #[test]
    fn phases_written_before_the_settings_decode_to_todays_behaviour() {
        let old = r#"{"name":"dev","starts_at":"2026-01-01T00:00:00Z","ends_at":"2026-02-01T00:00:00Z"}"#;
        let p: Phase = serde_json::from_str(old).unwrap();
        assert_eq!(p, Phase::new("dev", p.starts_at, p.ends_at));
        let new = r#"{"name":"dev","starts_at":"2026-01-01T00:00:00Z","ends_at":"2026-02-01T00:00:00Z",
            "private_split":true,"feedback":"rounded","decimals":3,"final_selections":1,"reveal":"manual"}"#;
        let p: Phase = serde_json::from_str(new).unwrap();
        assert_eq!(
            (p.private_split, p.feedback, p.decimals, p.final_selections, p.reveal),
            (true, Feedback::Rounded, Some(3), 1, Reveal::Manual)
        );
        assert!(serde_json::from_str::<Phase>(&new.replace("rounded", "exact")).is_err());
        let shown = serde_json::to_string(&Phase::new("dev", p.starts_at, p.ends_at)).unwrap();
        assert!(shown.ends_with(r#""private_split":false,"feedback":"raw","final_selections":2,"reveal":"at_close"}"#));
    }

    #[test]
    fn the_status_query_reads_the_wire_words() {
        let q: ChallengeListQuery = serde_json::from_str(r#"{"status":"closed"}"#).unwrap();
        assert_eq!(q.status, Some(ChallengeStatus::Closed));
        assert!(serde_json::from_str::<ChallengeListQuery>(r#"{"state":"open"}"#).is_err());
    }
}
