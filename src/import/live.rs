//! `import --live`: services as Cloud Run runs them now, turned into the spec files a team
//! keeps beside its manifest.

use crate::cloudrun::CloudRun;
use crate::error::Error;
use serde_json::Value;

/// Reads each service of `names`, in that order. One that does not exist is a usage error:
/// importing the others alone would give a manifest that silently lacks it.
pub async fn fetch(
    client: &CloudRun,
    project: &str,
    region: &str,
    names: &[String],
) -> Result<Vec<Value>, Error> {
    let mut services = Vec::new();
    for name in names {
        let service = client.get(region, project, name).await.map_err(|e| Error::Usage {
            message: format!("cannot read service `{name}`: {e}"),
            help: None,
        })?;
        let Some(service) = service else {
            let message = format!("service `{name}` does not exist in {project}/{region}");
            return Err(Error::Usage { message, help: None });
        };
        services.push(service);
    }
    Ok(services)
}

/// A live service without its status and the metadata Cloud Run sets itself, with every
/// credential it carries in clear replaced by `<redacted>` (see `redact`): the file
/// goes into the repository, the credential must not.
pub fn export_form(service: &Value) -> crate::yaml::Node {
    let mut tree = crate::yaml::Node::from_json(service);
    tree.remove("status");
    if let Some(metadata) = tree.get_mut("metadata") {
        crate::deploy::SERVER_METADATA.iter().for_each(|k| metadata.remove(k));
        if let Some(annotations) = metadata.get_mut("annotations") {
            crate::deploy::SERVER_ANNOTATIONS.iter().for_each(|k| annotations.remove(k));
        }
    }
    super::redact::credentials(&mut tree);
    tree
}
