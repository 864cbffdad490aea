//! Web sessions (issue 16): the page server's cookie holds a session secret, never a token. A
//! session is stored as the SHA-256 of its secret (the key), the hash of the token that opened
//! it and when it expires; `expires_at` is indexed so expired rows can be swept.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000001_sessions"
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    SecretHash,
    TokenHash,
    Organizer,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .if_not_exists()
                .col(ColumnDef::new(Sessions::SecretHash).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(Sessions::TokenHash).string_len(64).not_null())
                .col(ColumnDef::new(Sessions::Organizer).boolean().not_null())
                .col(ColumnDef::new(Sessions::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Sessions::ExpiresAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_sessions_expires_at").table(Sessions::Table).col(Sessions::ExpiresAt).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Sessions::Table).to_owned()).await
    }
}
