//! Registration: a participant gets a token once; only its hash is stored. And `/me`: who a
//! token belongs to.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use darkroom_core::domain::ParticipantName;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::auth::{hash_token, new_token};
use crate::db::entities::participant;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Viewer};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    name: String,
    #[serde(default)]
    team: Option<String>,
}

#[derive(Serialize)]
pub struct Registered {
    id: String,
    name: String,
    team: Option<String>,
    /// Shown only in this answer: keep it, it cannot be recovered.
    token: String,
}

/// Who holds the token: `{"role": "organizer"}`, or `{"role": "participant", ...profile}`.
#[derive(Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Me {
    Organizer,
    Participant(Profile),
}

#[derive(Serialize)]
pub struct Profile {
    id: String,
    name: String,
    team: Option<String>,
    created_at: DateTime<Utc>,
}

pub async fn register(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<Registration>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let name = ParticipantName::parse("name", &r.name).map_err(|e| ApiError::Invalid(vec![e]))?;
    let team = match r.team.as_deref() {
        Some(t) => Some(ParticipantName::parse("team", t).map_err(|e| ApiError::Invalid(vec![e]))?.as_str().to_owned()),
        None => None,
    };
    if participant::Entity::find().filter(participant::Column::Name.eq(name.as_str())).one(&state.db).await?.is_some() {
        return Err(ApiError::conflict("name_taken", format!("the name '{}' is taken; choose another", name.as_str())));
    }
    let token = new_token();
    let id = uuid::Uuid::now_v7().to_string();
    let inserted = participant::ActiveModel {
        id: Set(id.clone()),
        name: Set(name.as_str().to_owned()),
        team: Set(team.clone()),
        token_hash: Set(hash_token(&token)),
        created_at: Set(Utc::now()),
    }
    .insert(&state.db)
    .await;
    if let Err(e) = inserted {
        // A concurrent registration of the same name loses on the unique index.
        if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) {
            return Err(ApiError::conflict(
                "name_taken",
                format!("the name '{}' is taken; choose another", name.as_str()),
            ));
        }
        return Err(e.into());
    }
    tracing::info!(participant = %id, "participant registered");
    Ok((StatusCode::CREATED, Json(Registered { id, name: name.as_str().to_owned(), team, token })))
}

pub async fn me(viewer: Viewer) -> Json<Me> {
    Json(match viewer {
        Viewer::Organizer => Me::Organizer,
        Viewer::Participant(p) => {
            Me::Participant(Profile { id: p.id, name: p.name, team: p.team, created_at: p.created_at })
        }
    })
}
