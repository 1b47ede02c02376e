//! `not-a-cloud-run-service`: a spec that parses but is not a Cloud Run service in Knative form.
//!
//! The checks live in the spec reader, which also reports fields of the wrong shape here.

use super::Rule;
use crate::diagnostic::Severity;

pub static RULE: Rule = Rule {
    code: "not-a-cloud-run-service",
    severity: Severity::Error,
    summary: "a spec that parses but is not a Cloud Run service",
    flags: "A spec file whose `apiVersion` is not `serving.knative.dev/v1` or whose `kind` is \
not `Service`: a Cloud Run job, an Admin API v2 resource, a Config Connector `RunService`, a \
Kubernetes manifest. Also a service whose `spec`, template, containers, env vars or volumes \
have the wrong shape (a string where a list or a mapping belongs, an env entry without a \
name).",
    why: "secretgate renders and deploys the spec with the same resource `gcloud run services \
replace` sends. Another resource shape would be rejected by Cloud Run, or worse, read wrongly.",
    example: "apiVersion: run.cnrm.cloud.google.com/v1beta1\nkind: RunService",
    fix: "Export the live service in the form secretgate reads:\n  gcloud run services describe \
        NAME --region REGION --format export > deploy/ENV/NAME.yaml",
};
