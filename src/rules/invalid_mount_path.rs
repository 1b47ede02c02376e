//! `invalid-mount-path`: a secret file path that Cloud Run cannot mount.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity};
use crate::manifest::Manifest;
use crate::mounts::{self, Conflict};
use crate::resolve::Deployment;
use crate::spec::{normalize_path, parent_dir};

pub static RULE: Rule = Rule {
    code: "invalid-mount-path",
    severity: Severity::Error,
    summary: "a relative path, a path under /dev, /proc or /sys, two secrets in one directory, \
        one path twice, a declared directory mounted from another kind of volume",
    flags: "A secret file path that is relative, ends with `/`, contains `..`, lies under \
`/dev`, `/proc` or `/sys`, or is `/` itself; two different secrets mounted in the same \
directory; a file whose path is the directory of another; in a spec, a relative or system \
`mountPath`, two volume mounts on one path in one container, or a directory of declared \
secret files that the target container already mounts from a volume that is not a secret \
(`emptyDir`, `csi`...).",
    why: "Cloud Run mounts one secret volume per directory, and the directory hides whatever the \
image had there. Two secrets cannot share a directory, and a mount over a system directory \
breaks the container. Cloud Run rejects such a revision at deploy time.",
    example: "/secrets/oauth/client.json: {secret: google-oauth-client}\n/secrets/oauth/jwt.pem: \
        {secret: jwt-signing-key}   # second secret, same directory",
    fix: "Give each secret its own directory:\n/secrets/oauth/client.json: {secret: \
        google-oauth-client}\n/secrets/jwt/jwt.pem: {secret: jwt-signing-key}",
};

/// Why a secret file path cannot be mounted, or `None` when it can. Its directory is what gets
/// mounted, so a file directly under `/` would hide the root directory.
pub fn problem(path: &str) -> Option<&'static str> {
    if let Some(reason) = dir_problem(path) {
        return Some(reason);
    }
    if crate::spec::parent_dir(&normalize_path(path)) == "/" {
        return Some("a secret volume would be mounted over the root directory");
    }
    None
}

/// Why a directory cannot be a mount path, or `None` when it can.
fn dir_problem(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        return Some("it is not an absolute path");
    }
    if path.split('/').any(|p| p == "..") {
        return Some("it contains `..`");
    }
    let normal = normalize_path(path);
    if normal == "/" {
        return Some("it is the root directory");
    }
    let system = ["/dev", "/proc", "/sys"];
    if system.iter().any(|s| normal == *s || normal.starts_with(&format!("{s}/"))) {
        return Some("it lies under /dev, /proc or /sys");
    }
    None
}

pub fn check_manifest(manifest: &Manifest, out: &mut Vec<Diagnostic>) {
    for service in &manifest.services {
        for entry in &service.secrets {
            let path = &entry.target.value;
            let relative = !entry.is_file() && path.contains('/');
            let reason = if relative {
                Some("it is not an absolute path")
            } else if entry.is_file() && path.ends_with('/') {
                Some("it ends with `/`, so it names a directory, not a file")
            } else if entry.is_file() {
                problem(path)
            } else {
                None
            };
            let Some(reason) = reason else { continue };
            let d = Diagnostic::new(
                &RULE,
                format!("`{path}` cannot be a secret file path: {reason}"),
            )
            .at(manifest.file, entry.target.span, "invalid path")
            .help("use an absolute file path in a directory of its own, such as /secrets/NAME/FILE")
            .service(Some(&service.name.value))
            .target(Some(path));
            out.push(d);
        }
    }
}

/// Two secrets in one directory, or a file in the place of another file's directory.
pub fn check_environment(
    manifest: &Manifest,
    deployments: &[Deployment],
    out: &mut Vec<Diagnostic>,
) {
    for deployment in deployments {
        let files: Vec<_> = deployment.bindings.iter().filter(|b| b.entry.is_file()).collect();
        for (i, later) in files.iter().enumerate() {
            let later_path = normalize_path(later.target());
            for earlier in &files[..i] {
                let earlier_path = normalize_path(earlier.target());
                let same_dir = parent_dir(&later_path) == parent_dir(&earlier_path);
                let nested = later_path.starts_with(&format!("{earlier_path}/"))
                    || earlier_path.starts_with(&format!("{later_path}/"));
                let message = if nested {
                    format!(
                        "`{}` and `{}` are nested: one file's path is the other's directory",
                        earlier.target(),
                        later.target()
                    )
                } else if same_dir && later.secret.is_some() && later.secret != earlier.secret {
                    format!(
                        "`{}` and `{}` come from different secrets but share the directory {}",
                        earlier.target(),
                        later.target(),
                        parent_dir(&later_path)
                    )
                } else {
                    continue;
                };
                let d = Diagnostic::new(&RULE, message)
                    .at(manifest.file, later.entry.target.span, "this file")
                    .also(manifest.file, earlier.entry.target.span, "conflicts with this one")
                    .help(
                        "Cloud Run mounts one secret per directory: give each secret its own \
                        directory",
                    )
                    .env(Some(&deployment.env.name.value))
                    .service(Some(&deployment.service.name.value))
                    .target(Some(later.target()));
                out.push(d);
            }
        }
    }
}

pub fn check_spec(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    check_spec_mounts(ctx, out);
    check_declared_dirs(ctx, out);
}

/// A declared directory that the target container mounts from a volume of another kind: a
/// secret added to that volume would give it two sources.
fn check_declared_dirs(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    let Some(container) = ctx.container else { return };
    let bindings = &ctx.deployment.bindings;
    for found in mounts::declared_conflicts(ctx.spec, container, ctx.project(), bindings) {
        let Conflict::NotSecret { mount, volume } = &found.conflict else { continue };
        let Some(source) = &volume.other_source else { continue };
        let entry = found.entries[0];
        let d = ctx
            .diagnostic(&RULE, found.message())
            .at(ctx.spec.file, source.span, "not a secret volume")
            .also(ctx.spec.file, mount.path.span, "mounted here")
            .also(ctx.manifest.file, entry.entry.target.span, "a declared file")
            .help(format!(
                "give the secret files a directory the spec does not mount, or mount the `{}` \
                 volume elsewhere",
                source.value
            ))
            .target(Some(entry.target()))
            .secret(entry.secret.as_ref().map(|s| s.secret.as_str()));
        out.push(d);
    }
}

/// Mount paths of the spec itself: relative or system paths, one path mounted twice.
fn check_spec_mounts(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    for (index, container) in ctx.spec.containers.iter().enumerate() {
        for (i, mount) in container.mounts.iter().enumerate() {
            let path = &mount.path.value;
            if let Some(reason) = dir_problem(path) {
                let message = format!("{} mounts `{path}`: {reason}", container.label(index));
                let d = ctx
                    .diagnostic(&RULE, message)
                    .at(ctx.spec.file, mount.path.span, "invalid mount path")
                    .help("mount secrets at an absolute path of their own, such as /secrets/NAME")
                    .target(Some(path));
                out.push(d);
            }
            let earlier = container.mounts[..i]
                .iter()
                .find(|m| normalize_path(&m.path.value) == normalize_path(path));
            if let Some(earlier) = earlier {
                let message = format!("{} mounts two volumes on `{path}`", container.label(index));
                let d = ctx
                    .diagnostic(&RULE, message)
                    .at(ctx.spec.file, mount.path.span, "second mount")
                    .also(ctx.spec.file, earlier.path.span, "first mount")
                    .help("each mount needs a directory of its own")
                    .target(Some(path));
                out.push(d);
            }
        }
    }
}
