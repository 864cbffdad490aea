//! Schema migrations, applied at start-up. Add a new module per change (newer ones in their own
//! file under `migration/`); never edit one that has shipped.

use sea_orm_migration::prelude::*;

mod m20261201_000001_enrollment;
mod m20261201_000002_teams;
mod m20261202_000001_sessions;
mod m20261203_000001_verifications;
mod m20261203_000002_api_tokens;
mod m20261204_000001_webhooks;
mod m20261204_000002_trace_context;
mod m20261205_000001_public_score;
mod m20261206_000001_run_usage;
mod m20261207_000001_submission_note;
mod m20261208_000001_announcements;
mod m20261209_000001_disqualification;
mod m20261210_000001_retired_tokens;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_init::Migration),
            Box::new(m20261124_000001_run_log::Migration),
            Box::new(m20261130_000001_final_board::Migration),
            Box::new(m20261201_000001_enrollment::Migration),
            Box::new(m20261201_000002_teams::Migration),
            Box::new(m20261201_000001_dataset_listings::Migration),
            Box::new(m20261202_000001_sessions::Migration),
            Box::new(m20261203_000001_verifications::Migration),
            Box::new(m20261203_000002_api_tokens::Migration),
            Box::new(m20261204_000001_webhooks::Migration),
            Box::new(m20261204_000002_trace_context::Migration),
            Box::new(m20261205_000001_public_score::Migration),
            Box::new(m20261206_000001_run_usage::Migration),
            Box::new(m20261207_000001_submission_note::Migration),
            Box::new(m20261208_000001_announcements::Migration),
            Box::new(m20261209_000001_disqualification::Migration),
            Box::new(m20261210_000001_retired_tokens::Migration),
        ]
    }
}

mod m20261123_000001_init {
    use sea_orm_migration::prelude::*;

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261123_000001_init"
        }
    }

    #[derive(DeriveIden)]
    enum Challenges {
        Table,
        Slug,
        Title,
        Spec,
        CreatedAt,
        UpdatedAt,
    }

    #[derive(DeriveIden)]
    enum Participants {
        Table,
        Id,
        Name,
        Team,
        TokenHash,
        CreatedAt,
    }

    #[derive(DeriveIden)]
    enum Submissions {
        Table,
        Id,
        Challenge,
        Phase,
        ParticipantId,
        Image,
        State,
        FailureReason,
        FailureDetail,
        CountsAgainstQuota,
        Attempt,
        ImageDigest,
        CreatedAt,
        UpdatedAt,
    }

    #[derive(DeriveIden)]
    enum SubmissionTransitions {
        Table,
        Id,
        SubmissionId,
        FromState,
        ToState,
        Reason,
        EventId,
        At,
    }

    #[derive(DeriveIden)]
    enum Outbox {
        Table,
        Id,
        MsgId,
        Subject,
        Payload,
        CreatedAt,
        PublishedAt,
        Attempts,
    }

    fn ts(col: impl IntoIden) -> ColumnDef {
        ColumnDef::new(col).timestamp_with_time_zone().not_null().to_owned()
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                Table::create()
                    .table(Challenges::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Challenges::Slug).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(Challenges::Title).string_len(200).not_null())
                    .col(ColumnDef::new(Challenges::Spec).text().not_null())
                    .col(ts(Challenges::CreatedAt))
                    .col(ts(Challenges::UpdatedAt))
                    .to_owned(),
            )
            .await?;
            m.create_table(
                Table::create()
                    .table(Participants::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Participants::Id).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(Participants::Name).string_len(256).not_null().unique_key())
                    .col(ColumnDef::new(Participants::Team).string_len(256).null())
                    .col(ColumnDef::new(Participants::TokenHash).string_len(64).not_null().unique_key())
                    .col(ts(Participants::CreatedAt))
                    .to_owned(),
            )
            .await?;
            m.create_table(
                Table::create()
                    .table(Submissions::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Submissions::Id).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(Submissions::Challenge).string_len(64).not_null())
                    .col(ColumnDef::new(Submissions::Phase).string_len(64).not_null())
                    .col(ColumnDef::new(Submissions::ParticipantId).string_len(36).not_null())
                    .col(ColumnDef::new(Submissions::Image).text().not_null())
                    .col(ColumnDef::new(Submissions::State).string_len(16).not_null())
                    .col(ColumnDef::new(Submissions::FailureReason).text().null())
                    .col(ColumnDef::new(Submissions::FailureDetail).text().null())
                    .col(ColumnDef::new(Submissions::CountsAgainstQuota).boolean().not_null())
                    .col(ColumnDef::new(Submissions::Attempt).integer().not_null())
                    .col(ColumnDef::new(Submissions::ImageDigest).string_len(128).null())
                    .col(ts(Submissions::CreatedAt))
                    .col(ts(Submissions::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Submissions::Table, Submissions::Challenge)
                            .to(Challenges::Table, Challenges::Slug),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Submissions::Table, Submissions::ParticipantId)
                            .to(Participants::Table, Participants::Id),
                    )
                    .to_owned(),
            )
            .await?;
            // Quota checks count one participant's submissions in one phase by time.
            m.create_index(
                Index::create()
                    .name("idx_submissions_quota")
                    .table(Submissions::Table)
                    .col(Submissions::ParticipantId)
                    .col(Submissions::Challenge)
                    .col(Submissions::Phase)
                    .col(Submissions::CreatedAt)
                    .to_owned(),
            )
            .await?;
            m.create_table(
                Table::create()
                    .table(SubmissionTransitions::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(SubmissionTransitions::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(SubmissionTransitions::SubmissionId).string_len(36).not_null())
                    .col(ColumnDef::new(SubmissionTransitions::FromState).string_len(16).null())
                    .col(ColumnDef::new(SubmissionTransitions::ToState).string_len(16).not_null())
                    .col(ColumnDef::new(SubmissionTransitions::Reason).text().null())
                    .col(ColumnDef::new(SubmissionTransitions::EventId).string_len(200).not_null().unique_key())
                    .col(ts(SubmissionTransitions::At))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SubmissionTransitions::Table, SubmissionTransitions::SubmissionId)
                            .to(Submissions::Table, Submissions::Id),
                    )
                    .to_owned(),
            )
            .await?;
            m.create_index(
                Index::create()
                    .name("idx_transitions_submission")
                    .table(SubmissionTransitions::Table)
                    .col(SubmissionTransitions::SubmissionId)
                    .to_owned(),
            )
            .await?;
            m.create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Outbox::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Outbox::MsgId).string_len(200).not_null().unique_key())
                    .col(ColumnDef::new(Outbox::Subject).string_len(200).not_null())
                    .col(ColumnDef::new(Outbox::Payload).text().not_null())
                    .col(ts(Outbox::CreatedAt))
                    .col(ColumnDef::new(Outbox::PublishedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Outbox::Attempts).integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
            m.create_index(
                Index::create().name("idx_outbox_unpublished").table(Outbox::Table).col(Outbox::PublishedAt).to_owned(),
            )
            .await
        }

        async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
            for t in [
                Outbox::Table.into_iden(),
                SubmissionTransitions::Table.into_iden(),
                Submissions::Table.into_iden(),
                Participants::Table.into_iden(),
                Challenges::Table.into_iden(),
            ] {
                m.drop_table(Table::drop().table(t).to_owned()).await?;
            }
            Ok(())
        }
    }
}

mod m20261124_000001_run_log {
    use sea_orm_migration::prelude::*;

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261124_000001_run_log"
        }
    }

    #[derive(DeriveIden)]
    enum Submissions {
        Table,
        Id,
    }

    #[derive(DeriveIden)]
    enum RunLog {
        Table,
        Id,
        EventId,
        SubmissionId,
        Attempt,
        Lines,
        At,
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                Table::create()
                    .table(RunLog::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(RunLog::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(RunLog::EventId).string_len(200).not_null().unique_key())
                    .col(ColumnDef::new(RunLog::SubmissionId).string_len(36).not_null())
                    .col(ColumnDef::new(RunLog::Attempt).integer().not_null())
                    .col(ColumnDef::new(RunLog::Lines).text().not_null())
                    .col(ColumnDef::new(RunLog::At).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(RunLog::Table, RunLog::SubmissionId)
                            .to(Submissions::Table, Submissions::Id),
                    )
                    .to_owned(),
            )
            .await?;
            // A submission's logs are read newest first, by time then arrival.
            m.create_index(
                Index::create()
                    .name("idx_run_log_submission")
                    .table(RunLog::Table)
                    .col(RunLog::SubmissionId)
                    .col(RunLog::At)
                    .col(RunLog::Id)
                    .to_owned(),
            )
            .await
        }

        async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.drop_table(Table::drop().table(RunLog::Table).to_owned()).await
        }
    }
}

/// Final selections and phase closes (issue 15). A close's row is unique per challenge and
/// phase: of several API instances closing at once, one insert wins and the others read it.
mod m20261130_000001_final_board {
    use sea_orm_migration::prelude::*;

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261130_000001_final_board"
        }
    }

    #[derive(DeriveIden)]
    enum Submissions {
        Table,
        Id,
    }

    #[derive(DeriveIden)]
    enum FinalSelections {
        Table,
        Id,
        Challenge,
        Phase,
        ParticipantId,
        SubmissionId,
        CreatedAt,
    }

    #[derive(DeriveIden)]
    enum PhaseCloses {
        Table,
        Id,
        Challenge,
        Phase,
        ClosedAt,
        ClosedBy,
        Board,
        Salt,
        Commitment,
        Intervals,
        RevealedAt,
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                Table::create()
                    .table(FinalSelections::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(FinalSelections::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(FinalSelections::Challenge).string_len(64).not_null())
                    .col(ColumnDef::new(FinalSelections::Phase).string_len(64).not_null())
                    .col(ColumnDef::new(FinalSelections::ParticipantId).string_len(36).not_null())
                    .col(ColumnDef::new(FinalSelections::SubmissionId).string_len(36).not_null().unique_key())
                    .col(ColumnDef::new(FinalSelections::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(FinalSelections::Table, FinalSelections::SubmissionId)
                            .to(Submissions::Table, Submissions::Id),
                    )
                    .to_owned(),
            )
            .await?;
            m.create_index(
                Index::create()
                    .name("idx_final_selections_owner")
                    .table(FinalSelections::Table)
                    .col(FinalSelections::Challenge)
                    .col(FinalSelections::Phase)
                    .col(FinalSelections::ParticipantId)
                    .to_owned(),
            )
            .await?;
            m.create_table(
                Table::create()
                    .table(PhaseCloses::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(PhaseCloses::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(PhaseCloses::Challenge).string_len(64).not_null())
                    .col(ColumnDef::new(PhaseCloses::Phase).string_len(64).not_null())
                    .col(ColumnDef::new(PhaseCloses::ClosedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(PhaseCloses::ClosedBy).string_len(16).not_null())
                    .col(ColumnDef::new(PhaseCloses::Board).text().not_null())
                    .col(ColumnDef::new(PhaseCloses::Salt).string_len(64).not_null())
                    .col(ColumnDef::new(PhaseCloses::Commitment).string_len(64).not_null())
                    .col(ColumnDef::new(PhaseCloses::Intervals).text().null())
                    .col(ColumnDef::new(PhaseCloses::RevealedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
            m.create_index(
                Index::create()
                    .name("idx_phase_closes_unique")
                    .table(PhaseCloses::Table)
                    .col(PhaseCloses::Challenge)
                    .col(PhaseCloses::Phase)
                    .unique()
                    .to_owned(),
            )
            .await
        }

        async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.drop_table(Table::drop().table(PhaseCloses::Table).to_owned()).await?;
            m.drop_table(Table::drop().table(FinalSelections::Table).to_owned()).await
        }
    }
}

/// Dataset listings, computed when a challenge is applied or the organizer asks, and served
/// from here: an anonymous request never walks the dataset (issue 16).
mod m20261201_000001_dataset_listings {
    use sea_orm_migration::prelude::*;

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261201_000001_dataset_listings"
        }
    }

    #[derive(DeriveIden)]
    enum DatasetListings {
        Table,
        Challenge,
        Listing,
        Error,
        ListedAt,
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                Table::create()
                    .table(DatasetListings::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(DatasetListings::Challenge).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(DatasetListings::Listing).text().null())
                    .col(ColumnDef::new(DatasetListings::Error).text().null())
                    .col(ColumnDef::new(DatasetListings::ListedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
        }

        async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.drop_table(Table::drop().table(DatasetListings::Table).to_owned()).await
        }
    }
}
