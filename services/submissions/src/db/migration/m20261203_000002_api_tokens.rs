//! Scoped tokens (issue 18): stored as the SHA-256 of the secret, with the hash of the token
//! that minted it (whose holder it stands for), its scopes, and when it stops being accepted.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000002_api_tokens"
    }
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    SecretHash,
    Id,
    OwnerTokenHash,
    Organizer,
    Scopes,
    Label,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .if_not_exists()
                .col(ColumnDef::new(ApiTokens::SecretHash).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(ApiTokens::Id).string_len(36).not_null().unique_key())
                .col(ColumnDef::new(ApiTokens::OwnerTokenHash).string_len(64).not_null())
                .col(ColumnDef::new(ApiTokens::Organizer).boolean().not_null())
                .col(ColumnDef::new(ApiTokens::Scopes).string().not_null())
                .col(ColumnDef::new(ApiTokens::Label).string())
                .col(ColumnDef::new(ApiTokens::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(ApiTokens::ExpiresAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_api_tokens_owner")
                .table(ApiTokens::Table)
                .col(ApiTokens::OwnerTokenHash)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ApiTokens::Table).to_owned()).await
    }
}
