//! Replaced participant tokens (see `crate::token_replacement`): the hash of each token a
//! participant or the organizer replaced, whose it was and when, so whoever presents it is told
//! it was replaced instead of "unknown token"; indexed by participant and time, for the daily
//! allowance of a holder's own replacements. Sessions gain an index on the token that opened
//! them, since a replacement signs out every session of the old token.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261210_000001_retired_tokens"
    }
}

#[derive(DeriveIden)]
enum RetiredTokens {
    Table,
    TokenHash,
    ParticipantId,
    RetiredAt,
    ByOrganizer,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    TokenHash,
}

const SESSIONS_INDEX: &str = "idx_sessions_token_hash";
/// A replacement counts the holder's own replacements of the last day.
const PARTICIPANT_INDEX: &str = "idx_retired_tokens_participant";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RetiredTokens::Table)
                .if_not_exists()
                .col(ColumnDef::new(RetiredTokens::TokenHash).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(RetiredTokens::ParticipantId).string_len(36).not_null())
                .col(ColumnDef::new(RetiredTokens::RetiredAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(RetiredTokens::ByOrganizer).boolean().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name(SESSIONS_INDEX).table(Sessions::Table).col(Sessions::TokenHash).to_owned())
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(SESSIONS_INDEX).table(Sessions::Table).to_owned()).await?;
        m.drop_index(Index::drop().name(PARTICIPANT_INDEX).table(RetiredTokens::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(RetiredTokens::Table).to_owned()).await
    }
}
