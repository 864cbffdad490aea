//! Enrollments and invite codes (issue 16). An enrollment is unique per (challenge,
//! participant): of two concurrent joins, one insert wins. An invite stores only the SHA-256 of
//! its code.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000001_enrollment"
    }
}

#[derive(DeriveIden)]
enum Participants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Enrollments {
    Table,
    Id,
    Challenge,
    ParticipantId,
    State,
    InviteId,
    JoinedAt,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Invites {
    Table,
    Id,
    Challenge,
    CodeHash,
    Uses,
    Used,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Invites::Table)
                .if_not_exists()
                .col(ColumnDef::new(Invites::Id).string_len(32).not_null().primary_key())
                .col(ColumnDef::new(Invites::Challenge).string_len(64).not_null())
                .col(ColumnDef::new(Invites::CodeHash).string_len(64).not_null().unique_key())
                .col(ColumnDef::new(Invites::Uses).integer().not_null())
                .col(ColumnDef::new(Invites::Used).integer().not_null())
                .col(ColumnDef::new(Invites::ExpiresAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Invites::CreatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Enrollments::Table)
                .if_not_exists()
                .col(ColumnDef::new(Enrollments::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(Enrollments::Challenge).string_len(64).not_null())
                .col(ColumnDef::new(Enrollments::ParticipantId).string_len(36).not_null())
                .col(ColumnDef::new(Enrollments::State).string_len(16).not_null())
                .col(ColumnDef::new(Enrollments::InviteId).string_len(32).null())
                .col(ColumnDef::new(Enrollments::JoinedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Enrollments::DecidedAt).timestamp_with_time_zone().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Enrollments::Table, Enrollments::ParticipantId)
                        .to(Participants::Table, Participants::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Enrollments::Table, Enrollments::InviteId)
                        .to(Invites::Table, Invites::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_enrollments_unique")
                .table(Enrollments::Table)
                .col(Enrollments::Challenge)
                .col(Enrollments::ParticipantId)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Enrollments::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Invites::Table).to_owned()).await
    }
}
