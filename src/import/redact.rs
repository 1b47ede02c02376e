//! What `import --live` hides in the services it exports. The file is meant to be committed, so
//! every credential the live service carries in clear becomes `<redacted>`: a literal env
//! value, an annotation's value, and the credentials in a container's `args` and `command` and
//! in its probes.
//!
//! The judgement is the one `plaintext-secret` and the masking of excerpts and plans make
//! (credential names, value shapes, [`credential::find`] inside longer text), so that the export
//! hides what every other output hides.

use crate::rules::plaintext_secret::{self, MASKED};
use crate::yaml::{Node, Value};

/// Replaces every credential of `service` (a Knative service tree) with [`MASKED`]: in the
/// annotations of the service and of its revision template, and in each container's env,
/// `command`, `args` and probes.
pub fn credentials(service: &mut Node) {
    for path in [&["metadata", "annotations"][..], &["spec", "template", "metadata", "annotations"]]
    {
        if let Some(Value::Map(annotations)) = service.path_mut(path).map(|a| &mut a.value) {
            annotations.iter_mut().for_each(|(key, value)| annotation(key, value));
        }
    }
    let containers = service.path_mut(&["spec", "template", "spec", "containers"]);
    let Some(Value::Seq(containers)) = containers.map(|c| &mut c.value) else { return };
    for container in containers {
        if let Some(Value::Seq(env)) = container.get_mut("env").map(|e| &mut e.value) {
            plaintext_secret::redact_env(env, &[]);
        }
        arguments(container);
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            if let Some(probe) = container.get_mut(probe) {
                self::probe(probe);
            }
        }
    }
}

/// Masks a probe's HTTP header values as env values are (a header is a name and a value too),
/// and the credentials of its `exec.command`.
fn probe(probe: &mut Node) {
    let headers = probe.path_mut(&["httpGet", "httpHeaders"]);
    if let Some(Value::Seq(headers)) = headers.map(|h| &mut h.value) {
        plaintext_secret::redact_env(headers, &[]);
    }
    if let Some(Value::Seq(command)) = probe.path_mut(&["exec", "command"]).map(|c| &mut c.value) {
        let texts: Vec<Option<String>> = command.iter().map(Node::scalar_text).collect();
        for found in plaintext_secret::argument_credentials(&texts) {
            command[found.index] = Node::string(found.redacted);
        }
    }
}

/// Masks an annotation's whole value when [`plaintext_secret::annotation_credential`] calls
/// it a credential.
fn annotation(key: &Node, value: &mut Node) {
    let (Some(key), Some(text)) = (key.scalar_text(), value.scalar_text()) else { return };
    if plaintext_secret::annotation_credential(&key, &text).is_some() {
        *value = Node::string(MASKED);
    }
}

/// Masks the credentials [`plaintext_secret::argument_credentials`] finds in a container's
/// `command` and `args`, read as the one command line the container runs.
fn arguments(container: &mut Node) {
    let texts_of = |field: &str| -> Vec<Option<String>> {
        let items = container.get(field).and_then(Node::as_seq).unwrap_or_default();
        items.iter().map(Node::scalar_text).collect()
    };
    let command = texts_of("command");
    let command_len = command.len();
    let texts: Vec<Option<String>> = command.into_iter().chain(texts_of("args")).collect();
    for found in plaintext_secret::argument_credentials(&texts) {
        let (field, index) = match found.index.checked_sub(command_len) {
            Some(index) => ("args", index),
            None => ("command", found.index),
        };
        if let Some(Value::Seq(items)) = container.get_mut(field).map(|l| &mut l.value) {
            items[index] = Node::string(found.redacted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::credentials;
    use crate::yaml::Node;
    use serde_json::{Value, json};

    /// A service with `annotations` on the service and on its template, and one container with
    /// `args` and `command`, as redacted by [`credentials`], as JSON.
    fn redacted(annotations: Value, args: Value, command: Value) -> Value {
        let service = json!({
            "metadata": {"name": "api", "annotations": annotations},
            "spec": {"template": {
                "metadata": {"annotations": annotations},
                "spec": {"containers": [{"image": "app", "args": args, "command": command}]},
            }},
        });
        let mut tree = Node::from_json(&service);
        credentials(&mut tree);
        tree.to_json()
    }

    /// Annotation values that are credentials by their key's name after the domain, or by their
    /// shape under any key, are masked, on the service and on its template alike.
    #[test]
    fn annotations_named_or_shaped_like_credentials_are_masked() {
        let annotations = json!({
            "other/db-url": "postgres://admin:LiveS3cretPW@db/app",
            "example.com/db-password": "hunter2hunter2",
            "api-token": "plain-looking",
            "example.com/stripe": "sk_live_51HXYZZY0123456789abcdef",
            "example.com/owner": "team-payments",
            "example.com/token-ttl": "3600",
        });
        let out = redacted(annotations, json!([]), json!([]));
        for path in ["/metadata/annotations", "/spec/template/metadata/annotations"] {
            assert_eq!(
                out.pointer(path),
                Some(&json!({
                    "other/db-url": "<redacted>",
                    "example.com/db-password": "<redacted>",
                    "api-token": "<redacted>",
                    "example.com/stripe": "<redacted>",
                    "example.com/owner": "team-payments",
                    "example.com/token-ttl": "3600",
                })),
                "{path}"
            );
        }
    }

    /// Cloud Run's and Knative's own annotations are configuration, even where their names read
    /// as credentials (`secrets`, `encryption-key`): they are written as they are.
    #[test]
    fn platform_annotations_are_kept() {
        let annotations = json!({
            "run.googleapis.com/secrets":
                "db-pass:projects/418093711203/secrets/db-password,api:projects/p/secrets/api-key",
            "run.googleapis.com/encryption-key":
                "projects/shop/locations/us-central1/keyRings/run/cryptoKeys/services",
            "run.googleapis.com/vpc-access-connector":
                "projects/shop/locations/us-central1/connectors/vpc",
            "run.googleapis.com/network-interfaces":
                "[{\"network\":\"default\",\"subnetwork\":\"default\"}]",
            "run.googleapis.com/container-dependencies": "{\"app\":[\"collector\"]}",
            "run.googleapis.com/cloudsql-instances": "shop:us-central1:main",
            "run.googleapis.com/execution-environment": "gen2",
            "run.googleapis.com/cpu-throttling": "false",
            "run.googleapis.com/startup-cpu-boost": "true",
            "run.googleapis.com/ingress": "internal-and-cloud-load-balancing",
            "run.googleapis.com/launch-stage": "BETA",
            "run.googleapis.com/binary-authorization": "default",
            "run.googleapis.com/secure-session-agent": "true",
            "autoscaling.knative.dev/minScale": "1",
            "autoscaling.knative.dev/maxScale": "100",
            "serving.knative.dev/creator": "deployer@shop.iam.gserviceaccount.com",
        });
        let out = redacted(annotations.clone(), json!([]), json!([]));
        assert_eq!(out.pointer("/metadata/annotations"), Some(&annotations));
        assert_eq!(out.pointer("/spec/template/metadata/annotations"), Some(&annotations));
    }

    /// A flag named like a credential hides its value, glued (`--flag=VALUE`) or in the next
    /// item; a credential inside an item is masked where it stands; the rest is kept.
    #[test]
    fn arguments_hide_the_values_of_credential_flags_and_credentials_inside_items() {
        let url = "postgres://admin:LiveS3cretPW@db/app";
        let masked_url = "postgres://admin:<redacted>@db/app";
        let token = "ghp_XYZZY0123456789012345678901234567890";
        let cases: [(&[&str], &[&str]); 10] = [
            (&["--db-password", "LiveHunterPassw0rd"], &["--db-password", "<redacted>"]),
            (&["--db-password=LiveHunterPassw0rd"], &["--db-password=<redacted>"]),
            (&["-password", "hunter2hunter2"], &["-password", "<redacted>"]),
            (&["--api-token", "--verbose"], &["--api-token", "--verbose"]),
            (&["--port", "8080", "-p", "80"], &["--port", "8080", "-p", "80"]),
            (
                &["--require-token=false", "--api-key=${API_KEY}"],
                &["--require-token=false", "--api-key=${API_KEY}"],
            ),
            (&["--token-ttl=3600"], &["--token-ttl=3600"]),
            (&[&format!("--dsn={url}")], &[&format!("--dsn={masked_url}")]),
            (&[&format!("key={token} {url}")], &[&format!("key=<redacted> {masked_url}")]),
            (
                &["sh", "-c", &format!("exec app --db {url} --log debug")],
                &["sh", "-c", &format!("exec app --db {masked_url} --log debug")],
            ),
        ];
        for (items, expected) in cases {
            let out = redacted(json!({}), json!(items), json!(items));
            for field in ["args", "command"] {
                let list = out.pointer(&format!("/spec/template/spec/containers/0/{field}"));
                assert_eq!(list, Some(&json!(expected)), "{field}: {items:?}");
            }
        }
    }

    /// A probe's header named like a credential and a password in its command are masked.
    #[test]
    fn probes_are_masked() {
        let service = json!({"spec": {"template": {"spec": {"containers": [{
            "image": "app",
            "livenessProbe": {"httpGet": {"httpHeaders": [
                {"name": "X-Api-Key", "value": "XYZZYprobe1"},
                {"name": "Accept", "value": "application/json"},
            ]}},
            "startupProbe": {"exec": {"command": ["curl", "-u", "admin:XYZZYexec9", "http://x/"]}},
        }]}}}});
        let mut tree = Node::from_json(&service);
        credentials(&mut tree);
        let container = &tree.to_json()["spec"]["template"]["spec"]["containers"][0];
        let headers = &container["livenessProbe"]["httpGet"]["httpHeaders"];
        assert_eq!(headers[0]["value"], "<redacted>");
        assert_eq!(headers[1]["value"], "application/json");
        let command = &container["startupProbe"]["exec"]["command"];
        assert_eq!(command, &json!(["curl", "-u", "admin:<redacted>", "http://x/"]));
    }

    /// `command` and `args` are one command line: a flag that ends `command` takes the first
    /// item of `args`.
    #[test]
    fn a_flag_ending_the_command_takes_the_first_argument() {
        let out = redacted(
            json!({}),
            json!(["hunterAAhunter", "--port=1"]),
            json!(["app", "--db-password"]),
        );
        let container = &out["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["args"], json!(["<redacted>", "--port=1"]));
        assert_eq!(container["command"], json!(["app", "--db-password"]));
    }
}
