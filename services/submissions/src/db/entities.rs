//! sea-orm entities, one module per table.

pub mod challenge {
    use sea_orm::entity::prelude::*;

    /// A challenge; `spec` holds the validated spec as JSON (phases, metrics, limits).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "challenges")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub slug: String,
        pub title: String,
        #[sea_orm(column_type = "Text")]
        pub spec: String,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod participant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "participants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub name: String,
        pub team: Option<String>,
        /// SHA-256 of the bearer token, hex.
        #[sea_orm(unique)]
        pub token_hash: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        /// `id`, typed.
        pub fn participant_id(&self) -> Result<darkroom_api::ParticipantId, DbErr> {
            crate::db::parse_column("participants.id", &self.id)
        }
    }
}

pub mod submission {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "submissions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub challenge: String,
        pub phase: String,
        pub participant_id: String,
        /// The `ImageSource` as JSON.
        #[sea_orm(column_type = "Text")]
        pub image: String,
        pub state: String,
        pub failure_reason: Option<String>,
        /// Organizer-only detail of a failure.
        pub failure_detail: Option<String>,
        /// False once a platform failure or a cancellation means it must not use up quota.
        pub counts_against_quota: bool,
        pub attempt: i32,
        pub image_digest: Option<String>,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
        /// The W3C `traceparent` of the request that created it: every event about it
        /// continues this trace (`outbox::enqueue`). `None` for rows older than traces.
        pub trace_context: Option<String>,
        /// Once COMPLETE: the public metrics its `score.recorded` event carried, as JSON (what
        /// the organizer's list shows). `None` before, and for rows scored before it was kept.
        #[sea_orm(column_type = "Text", nullable)]
        pub public_score: Option<String>,
        /// Once its run finished: how long the participant's container ran.
        pub run_duration_ms: Option<i64>,
        /// Once its run finished: the most memory the engine saw it use (shown to its
        /// participant only where the challenge shows logs, `views::for_participant`).
        pub peak_memory_bytes: Option<i64>,
        /// Its participant's note (`SubmissionNote`), if any.
        pub note: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        /// `id`, typed.
        pub fn submission_id(&self) -> Result<darkroom_api::SubmissionId, DbErr> {
            crate::db::parse_column("submissions.id", &self.id)
        }

        /// `participant_id`, typed: whose submission it is.
        pub fn owner_id(&self) -> Result<darkroom_api::ParticipantId, DbErr> {
            crate::db::parse_column("submissions.participant_id", &self.participant_id)
        }

        /// `state`, typed.
        pub fn current_state(&self) -> Result<darkroom_api::SubmissionState, DbErr> {
            crate::db::parse_column("submissions.state", &self.state)
        }

        /// `public_score` as written: the public metrics, metric → exact value, as JSON.
        pub fn public_score_column(metrics: &PublicScore) -> Result<String, DbErr> {
            serde_json::to_string(metrics).map_err(|e| DbErr::Custom(format!("submissions.public_score: {e}")))
        }

        /// `public_score`, typed: `None` when the row kept no score; an error when what it
        /// kept cannot be read (the caller falls back to the score store).
        pub fn kept_public_score(&self) -> Option<Result<PublicScore, DbErr>> {
            self.public_score.as_deref().map(|json| {
                serde_json::from_str(json).map_err(|e| DbErr::Custom(format!("submissions.public_score: {e}")))
            })
        }
    }

    /// The public metrics a COMPLETE submission kept: metric name → exact value.
    pub type PublicScore = std::collections::BTreeMap<String, f64>;
}

pub mod transition {
    use sea_orm::entity::prelude::*;

    /// One row per state change: the submission's history. `event_id` is unique, so applying a
    /// redelivered event twice fails on the constraint instead of writing history twice.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "submission_transitions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub submission_id: String,
        pub from_state: Option<String>,
        pub to_state: String,
        pub reason: Option<String>,
        #[sea_orm(unique)]
        pub event_id: String,
        pub at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod outbox {
    use sea_orm::entity::prelude::*;

    /// Events committed with the change that caused them, published to JetStream afterwards.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The `Nats-Msg-Id`.
        #[sea_orm(unique)]
        pub msg_id: String,
        pub subject: String,
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        pub created_at: ChronoDateTimeUtc,
        pub published_at: Option<ChronoDateTimeUtc>,
        pub attempts: i32,
        /// The W3C `traceparent` the relay publishes the row under.
        pub trace_context: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod run_log {
    use sea_orm::entity::prelude::*;

    /// One batch of a run's log lines, as a runner published it (`run.log`). `event_id` is
    /// unique, so a redelivered batch is stored once; `id` keeps the order batches arrived in.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "run_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub event_id: String,
        pub submission_id: String,
        pub attempt: i32,
        /// The lines as a JSON array of strings.
        #[sea_orm(column_type = "Text")]
        pub lines: String,
        pub at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod final_selection {
    use sea_orm::entity::prelude::*;

    /// One submission a participant selected for the final (private) ranking of its phase. A
    /// submission is selected at most once (unique `submission_id`).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "final_selections")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub challenge: String,
        pub phase: String,
        pub participant_id: String,
        #[sea_orm(unique)]
        pub submission_id: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod phase_close {
    use sea_orm::entity::prelude::*;

    /// A closed phase: the private board computed at the close, its salt and commitment, and
    /// when it was revealed. Unique per (challenge, phase): the first close wins.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "phase_closes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub challenge: String,
        pub phase: String,
        pub closed_at: ChronoDateTimeUtc,
        /// `deadline` (the platform, at `ends_at`) or `organizer` (an early close).
        pub closed_by: String,
        /// The committed board (`commitment::Board`) as JSON.
        #[sea_orm(column_type = "Text")]
        pub board: String,
        /// 64 hex digits; secret until `revealed_at`.
        pub salt: String,
        pub commitment: String,
        /// The rows' bootstrap intervals (`Vec<darkroom_api::RowInterval>`) as JSON, if any.
        #[sea_orm(column_type = "Text", nullable)]
        pub intervals: Option<String>,
        pub revealed_at: Option<ChronoDateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod enrollment {
    use sea_orm::entity::prelude::*;

    /// A participant's enrollment in a challenge (`state`: `EnrollmentState::as_str`). Unique
    /// per (challenge, participant).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "enrollments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub challenge: String,
        pub participant_id: String,
        pub state: String,
        pub invite_id: Option<String>,
        pub joined_at: ChronoDateTimeUtc,
        pub decided_at: Option<ChronoDateTimeUtc>,
        /// The participant's team in this challenge, if any.
        pub team_id: Option<String>,
        /// When the organizer disqualified them, and why (both or neither; see
        /// `crate::disqualification`).
        pub disqualified_at: Option<ChronoDateTimeUtc>,
        pub disqualified_reason: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod invite {
    use sea_orm::entity::prelude::*;

    /// An invite code of a challenge, stored as the SHA-256 of the code; `used` counts joins.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "invites")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub challenge: String,
        #[sea_orm(unique)]
        pub code_hash: String,
        pub uses: i32,
        pub used: i32,
        pub expires_at: Option<ChronoDateTimeUtc>,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod team {
    use sea_orm::entity::prelude::*;

    /// A team of a challenge; its members are the enrollments naming it. `code_hash`: the
    /// SHA-256 of the code that lets others join or merge into it.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "teams")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub challenge: String,
        pub name: String,
        pub captain_id: String,
        #[sea_orm(unique)]
        pub code_hash: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod dataset_listing {
    use sea_orm::entity::prelude::*;

    /// A challenge's dataset listing as last computed (on apply, or the organizer's refresh):
    /// the listing, or why the dataset could not be listed.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "dataset_listings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub challenge: String,
        /// `darkroom_api::DatasetListing` as JSON (its description left empty: the spec's is
        /// served), or none when listing failed.
        #[sea_orm(column_type = "Text", nullable)]
        pub listing: Option<String>,
        /// Why listing failed, for the organizer's logs.
        #[sea_orm(column_type = "Text", nullable)]
        pub error: Option<String>,
        pub listed_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod session {
    use sea_orm::entity::prelude::*;

    /// A web session: the SHA-256 of its secret (the secret itself is never stored), the hash
    /// of the token that opened it, and when it stops being accepted.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub secret_hash: String,
        /// The participant's `token_hash`, or the admin token's hash for the organizer.
        pub token_hash: String,
        pub organizer: bool,
        pub created_at: ChronoDateTimeUtc,
        pub expires_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod verification {
    use sea_orm::entity::prelude::*;

    /// An organizer's verification re-run of a scored submission (its result is in MongoDB).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "verifications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub submission_id: String,
        pub challenge: String,
        pub requested_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_token {
    use sea_orm::entity::prelude::*;

    /// A scoped token: the SHA-256 of its secret, the hash of the token that minted it (whose
    /// holder it stands for), its scopes (comma-separated) and when it stops being accepted.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub secret_hash: String,
        #[sea_orm(unique)]
        pub id: String,
        pub owner_token_hash: String,
        pub organizer: bool,
        pub scopes: String,
        pub label: Option<String>,
        pub created_at: ChronoDateTimeUtc,
        pub expires_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod retired_token {
    use sea_orm::entity::prelude::*;

    /// A participant token that was replaced (`crate::token_replacement`): its hash, whose it
    /// was, when, and whether the organizer replaced it. Kept so the old token is refused with
    /// what happened to it; it never authenticates.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "retired_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub participant_id: String,
        pub retired_at: ChronoDateTimeUtc,
        pub by_organizer: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod announcement {
    use sea_orm::entity::prelude::*;

    /// An organizer's announcement to a challenge's participants; `body` is Markdown.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "announcements")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub challenge: String,
        pub title: String,
        #[sea_orm(column_type = "Text")]
        pub body: String,
        pub posted_at: ChronoDateTimeUtc,
        pub edited_at: Option<ChronoDateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod webhook {
    use sea_orm::entity::prelude::*;

    /// An organizer's webhook: where to POST which events (comma-separated) of a challenge, and
    /// the secret that signs them (kept as it is: signing needs it; never shown again).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhooks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub challenge: String,
        #[sea_orm(column_type = "Text")]
        pub url: String,
        pub events: String,
        pub secret: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod webhook_delivery {
    use sea_orm::entity::prelude::*;

    /// One event's delivery to one webhook (unique per webhook and event id): the body as it is
    /// sent on every attempt, where it stands (`pending`, `delivered`, `failed`), and when the
    /// next attempt is due (also the lease of an attempt in progress; see `crate::webhooks`).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub webhook_id: String,
        pub challenge: String,
        pub event: String,
        pub event_id: String,
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        pub state: String,
        pub attempts: i32,
        pub last_status: Option<i32>,
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
        pub next_attempt_at: Option<ChronoDateTimeUtc>,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
