//! Webhooks (issue 18): the organizer's URLs per challenge with their signing secrets, and one
//! delivery row per (webhook, event), unique on the pair, so a redelivered event never makes a
//! second delivery. The secret is stored as it is (not hashed): the sender needs it to sign.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000001_webhooks"
    }
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    Challenge,
    Url,
    Events,
    Secret,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    Challenge,
    Event,
    EventId,
    Payload,
    State,
    Attempts,
    LastStatus,
    LastError,
    NextAttemptAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Webhooks::Table)
                .if_not_exists()
                .col(ColumnDef::new(Webhooks::Id).string_len(36).not_null().primary_key())
                .col(ColumnDef::new(Webhooks::Challenge).string().not_null())
                .col(ColumnDef::new(Webhooks::Url).text().not_null())
                .col(ColumnDef::new(Webhooks::Events).string().not_null())
                .col(ColumnDef::new(Webhooks::Secret).string().not_null())
                .col(ColumnDef::new(Webhooks::CreatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_webhooks_challenge").table(Webhooks::Table).col(Webhooks::Challenge).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .if_not_exists()
                .col(ColumnDef::new(WebhookDeliveries::Id).string_len(36).not_null().primary_key())
                .col(ColumnDef::new(WebhookDeliveries::WebhookId).string_len(36).not_null())
                .col(ColumnDef::new(WebhookDeliveries::Challenge).string().not_null())
                .col(ColumnDef::new(WebhookDeliveries::Event).string().not_null())
                .col(ColumnDef::new(WebhookDeliveries::EventId).string().not_null())
                .col(ColumnDef::new(WebhookDeliveries::Payload).text().not_null())
                .col(ColumnDef::new(WebhookDeliveries::State).string().not_null())
                .col(ColumnDef::new(WebhookDeliveries::Attempts).integer().not_null())
                .col(ColumnDef::new(WebhookDeliveries::LastStatus).integer())
                .col(ColumnDef::new(WebhookDeliveries::LastError).text())
                .col(ColumnDef::new(WebhookDeliveries::NextAttemptAt).timestamp_with_time_zone())
                .col(ColumnDef::new(WebhookDeliveries::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(WebhookDeliveries::UpdatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhook_deliveries_once")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::WebhookId)
                .col(WebhookDeliveries::EventId)
                .unique()
                .to_owned(),
        )
        .await?;
        // The scheduler's question: which pending deliveries are due.
        m.create_index(
            Index::create()
                .name("idx_webhook_deliveries_due")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::State)
                .col(WebhookDeliveries::NextAttemptAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Webhooks::Table).to_owned()).await
    }
}
