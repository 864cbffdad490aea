//! Pins a challenge's evaluation image to an image id when the organizer applies it.
//!
//! This service has no engine of its own, so it asks an evaluator over NATS
//! ([`darkroom_core::events::RESOLVE_EVALUATION_IMAGE`]). Every evaluation later checks that the
//! name still points at the pinned id and runs that id, so retagging the name (by accident or
//! by an attack) can never change which program scores a submission.

use std::time::Duration;

use darkroom_core::domain::ChallengeSpec;
use darkroom_core::events::{RESOLVE_EVALUATION_IMAGE, ResolvedImage};

use crate::error::{ApiError, ApiResult};

/// How long to wait for an evaluator to be listening (one starting with the stack).
const WAIT_FOR_EVALUATOR: Duration = Duration::from_secs(10);

/// Sets `spec.evaluation.image_id` to what the evaluators' engine has under the image name.
pub async fn pin_evaluation_image(nats: &async_nats::Client, spec: &mut ChallengeSpec) -> ApiResult<()> {
    let name = spec.evaluation.image.clone();
    let deadline = tokio::time::Instant::now() + WAIT_FOR_EVALUATOR;
    let reply = loop {
        let asked =
            tokio::time::timeout(WAIT_FOR_EVALUATOR, nats.request(RESOLVE_EVALUATION_IMAGE, name.clone().into()));
        match asked.await {
            Ok(Ok(reply)) => break reply,
            Ok(Err(e))
                if e.kind() == async_nats::client::RequestErrorKind::NoResponders
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Ok(Err(e)) => return Err(unavailable(&name, &format!("no evaluator answered: {e}"))),
            Err(_) => return Err(unavailable(&name, "no evaluator answered in time")),
        }
    };
    let answer: ResolvedImage = serde_json::from_slice(&reply.payload)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("an evaluator's answer does not parse: {e}")))?;
    match answer {
        ResolvedImage::Found { id } => {
            if let Some(given) = &spec.evaluation.image_id
                && given != &id
            {
                return Err(ApiError::field(
                    "evaluation.image_id",
                    format!("is {given}, but '{name}' is {id} on the evaluators' engine"),
                    "load the image you mean on the evaluators' engine, or leave image_id out to pin what is there",
                ));
            }
            tracing::info!(challenge = %spec.slug, image = %name, %id, "evaluation image pinned");
            spec.evaluation.image_id = Some(id);
            Ok(())
        }
        ResolvedImage::Missing => Err(ApiError::field(
            "evaluation.image",
            format!("'{name}' is not on the evaluators' Docker engine"),
            "build or load it there ('docker build -t NAME …' or 'docker load'), then apply the challenge again",
        )),
        ResolvedImage::Failed { message } => {
            Err(unavailable(&name, &format!("the evaluator could not ask its engine: {message}")))
        }
    }
}

fn unavailable(name: &str, why: &str) -> ApiError {
    ApiError::Unavailable(format!(
        "the evaluation image '{name}' could not be pinned ({why}); make sure the evaluator runs and \
         reaches its Docker engine (it looks the image up there), then apply the challenge again"
    ))
}
