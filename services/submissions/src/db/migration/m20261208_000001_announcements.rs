//! An organizer's announcements per challenge (`darkroom_api::announcement`): read newest first
//! by challenge, hence the index.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000001_announcements"
    }
}

#[derive(DeriveIden)]
enum Announcements {
    Table,
    Id,
    Challenge,
    Title,
    Body,
    PostedAt,
    EditedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Announcements::Table)
                .if_not_exists()
                .col(ColumnDef::new(Announcements::Id).string_len(36).not_null().primary_key())
                .col(ColumnDef::new(Announcements::Challenge).string().not_null())
                .col(ColumnDef::new(Announcements::Title).string().not_null())
                .col(ColumnDef::new(Announcements::Body).text().not_null())
                .col(ColumnDef::new(Announcements::PostedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Announcements::EditedAt).timestamp_with_time_zone())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_announcements_challenge")
                .table(Announcements::Table)
                .col(Announcements::Challenge)
                .col(Announcements::PostedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Announcements::Table).to_owned()).await
    }
}
