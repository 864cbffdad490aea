//! Answers "what image id does this evaluation image name have here?", so the submissions
//! service can pin a challenge's evaluation image when the organizer applies it.
//!
//! Core NATS request–reply in a queue group: one evaluator answers each request. With several
//! evaluators on different engines, each later checks the pin against its own engine, so an
//! engine whose image differs fails loudly instead of scoring with another image.

use darkroom_core::events::{RESOLVE_EVALUATION_IMAGE, RESOLVERS_GROUP, ResolvedImage};
use darkroom_core::sandbox::{Sandbox, SandboxError};
use futures::StreamExt;

/// The answer for `name` on this engine.
pub async fn resolve(sandbox: &Sandbox, name: &str) -> ResolvedImage {
    match sandbox.image_info(name).await {
        Ok(info) => ResolvedImage::Found { id: info.id },
        Err(SandboxError::ImageMissing(_)) => ResolvedImage::Missing,
        Err(e) => ResolvedImage::Failed { message: e.to_string() },
    }
}

/// Serves requests until the connection closes.
pub async fn serve(client: async_nats::Client, sandbox: Sandbox) -> Result<(), async_nats::Error> {
    let mut requests = client.queue_subscribe(RESOLVE_EVALUATION_IMAGE, RESOLVERS_GROUP.into()).await?;
    while let Some(request) = requests.next().await {
        let Some(reply) = request.reply else { continue };
        let name = String::from_utf8_lossy(&request.payload).into_owned();
        let answer = resolve(&sandbox, &name).await;
        tracing::info!(image = %name, ?answer, "evaluation image resolved");
        let body = serde_json::to_vec(&answer).map_err(|e| async_nats::Error::from(e.to_string()))?;
        if let Err(e) = client.publish(reply, body.into()).await {
            tracing::warn!(error = %e, "could not answer an image resolution");
        }
    }
    Ok(())
}
