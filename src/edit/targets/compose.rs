//! docker-compose / Compose Specification files: `services.*.image`.

use crate::edit::TargetKind;
use crate::edit::target::{Context, Found, find_reference};
use crate::edit::yaml::{Node, Problem};

pub(crate) fn find(ctx: &Context<'_, '_>, root: &Node<'_>) -> Result<Vec<Found>, Problem> {
    let mut found = Vec::new();
    let Some(services) = root.get("services")? else {
        return Ok(found);
    };
    let Some(entries) = services.entries() else {
        return Ok(found);
    };
    for (_, service) in entries {
        if let Some(image) = service.get("image")? {
            found.extend(find_reference(
                ctx,
                image,
                TargetKind::Compose,
                service.is_flow(),
            ));
        }
    }
    Ok(found)
}
