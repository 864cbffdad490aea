//! Teams (issue 16): a team belongs to one challenge and has a unique name there; a participant
//! is in at most one team per challenge, which is their enrollment's `team_id`.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000002_teams"
    }
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
    Challenge,
    Name,
    CaptainId,
    CodeHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Enrollments {
    Table,
    TeamId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Teams::Table)
                .if_not_exists()
                .col(ColumnDef::new(Teams::Id).string_len(32).not_null().primary_key())
                .col(ColumnDef::new(Teams::Challenge).string_len(64).not_null())
                .col(ColumnDef::new(Teams::Name).string_len(100).not_null())
                .col(ColumnDef::new(Teams::CaptainId).string_len(36).not_null())
                .col(ColumnDef::new(Teams::CodeHash).string_len(64).not_null().unique_key())
                .col(ColumnDef::new(Teams::CreatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_teams_name")
                .table(Teams::Table)
                .col(Teams::Challenge)
                .col(Teams::Name)
                .unique()
                .to_owned(),
        )
        .await?;
        // Added without a foreign key: SQLite cannot add one to an existing table, and a team
        // is only ever deleted once no enrollment names it.
        m.alter_table(
            Table::alter()
                .table(Enrollments::Table)
                .add_column(ColumnDef::new(Enrollments::TeamId).string_len(32).null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_enrollments_team").table(Enrollments::Table).col(Enrollments::TeamId).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("idx_enrollments_team").table(Enrollments::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Enrollments::Table).drop_column(Enrollments::TeamId).to_owned()).await?;
        m.drop_table(Table::drop().table(Teams::Table).to_owned()).await
    }
}
