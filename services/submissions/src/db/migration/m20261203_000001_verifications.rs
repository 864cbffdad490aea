//! Verification re-runs (issue 17): which an organizer asked for, of which submission and when.
//! Their results are the evaluator's, in MongoDB; this row is what makes a running one known.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000001_verifications"
    }
}

#[derive(DeriveIden)]
enum Verifications {
    Table,
    Id,
    SubmissionId,
    Challenge,
    RequestedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Verifications::Table)
                .if_not_exists()
                .col(ColumnDef::new(Verifications::Id).string_len(36).not_null().primary_key())
                .col(ColumnDef::new(Verifications::SubmissionId).string_len(36).not_null())
                .col(ColumnDef::new(Verifications::Challenge).string().not_null())
                .col(ColumnDef::new(Verifications::RequestedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_verifications_submission")
                .table(Verifications::Table)
                .col(Verifications::SubmissionId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Verifications::Table).to_owned()).await
    }
}
