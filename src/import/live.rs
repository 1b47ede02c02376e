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

/// A live service without its status and the metadata Cloud Run sets itself, with every literal
/// env value that `plaintext-secret` calls a credential replaced by `<redacted>`: the file goes
/// into the repository, the credential must not.
pub fn export_form(service: &Value) -> crate::yaml::Node {
    let mut tree = crate::yaml::Node::from_json(service);
    tree.remove("status");
    if let Some(metadata) = tree.get_mut("metadata") {
        crate::deploy::SERVER_METADATA.iter().for_each(|k| metadata.remove(k));
        if let Some(annotations) = metadata.get_mut("annotations") {
            crate::deploy::SERVER_ANNOTATIONS.iter().for_each(|k| annotations.remove(k));
        }
    }
    if let Some(pod) = tree.path_mut(&["spec", "template", "spec"]) {
        mask_credentials(pod);
    }
    tree
}

fn mask_credentials(pod: &mut crate::yaml::Node) {
    use crate::yaml::Value;
    let Some(Value::Seq(containers)) = pod.get_mut("containers").map(|c| &mut c.value) else {
        return;
    };
    for container in containers {
        if let Some(Value::Seq(env)) = container.get_mut("env").map(|e| &mut e.value) {
            crate::rules::plaintext_secret::redact_env(env, &[]);
        }
    }
}
