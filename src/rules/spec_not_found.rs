//! `spec-not-found`: a service's `spec` path that does not exist for an environment.

use super::Rule;
use crate::diagnostic::Severity;

pub static RULE: Rule = Rule {
    code: "spec-not-found",
    severity: Severity::Error,
    summary: "a `spec` path that does not exist for an environment, is no regular file, or leads \
        out of the manifest's folder",
    flags: "A service whose `spec`, after `{env}` and the other placeholders are filled in, names \
a file that does not exist or cannot be read, for one of the environments the service is \
deployed to. A folder, a FIFO or a device (also through a link) cannot be read. Nor can a file \
outside the folder that holds the manifest, once links are resolved (`../other/.env`, \
`/etc/passwd`, a link in `deploy/` to a file elsewhere): such a file is never opened.",
    why: "`deploy` renders the service from this file. A missing spec usually means a new \
environment was added to the manifest without its service files, or a file was renamed. A \
spec outside the manifest's folder is not part of the reviewed change, and its excerpt in a \
finding could show another project's files, credentials included.",
    example: "services:\n  api:\n    spec: deploy/{env}/api.yaml   # deploy/production/api.yaml \
        is missing",
    fix: "Add the file (`gcloud run services describe api --region R --format export > \
deploy/production/api.yaml`), fix the path, or limit the service with `environments: [staging]`.",
};
