//! `audit`: secret coverage across services and environments, gaps between environments,
//! orphaned secrets and hygiene, built from the same findings and inventory as `check`.

pub mod format;

use crate::diagnostic::{Diagnostic, Label, Severity};
use crate::inventory::{Inventory, ProjectInventory, SecretInfo, VersionState};
use crate::manifest::{Environment, Manifest, SecretEntry, Service, Version};
use crate::resolve::{self, Binding, Deployment};
use crate::source::{FileId, Sources};
use jiff::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The state of one declared mapping in one environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cell {
    Ok,
    Missing,
    Disabled,
    Destroyed,
    LatestUnusable,
    Unmapped,
    Plaintext,
    Unverified,
    Invalid,
    NotApplicable,
    /// Nothing wrong with the entry itself, but a problem that no required entry of the
    /// service shows (an optional entry's, say) makes the deploy gate refuse the service: the
    /// secret would not reach it.
    Blocked,
}

impl Cell {
    pub fn as_str(self) -> &'static str {
        match self {
            Cell::Ok => "ok",
            Cell::Missing => "missing",
            Cell::Disabled => "disabled",
            Cell::Destroyed => "destroyed",
            Cell::LatestUnusable => "latest-unusable",
            Cell::Unmapped => "unmapped",
            Cell::Plaintext => "plaintext",
            Cell::Unverified => "unverified",
            Cell::Invalid => "invalid",
            Cell::NotApplicable => "n/a",
            Cell::Blocked => "blocked",
        }
    }

    /// The cell a finding puts a mapping in; `None` for findings that do not stop it resolving.
    fn from_code(code: &str) -> Option<Cell> {
        Some(match code {
            "secret-not-found" | "version-not-found" => Cell::Missing,
            "version-disabled" => Cell::Disabled,
            "version-destroyed" => Cell::Destroyed,
            "latest-unusable" => Cell::LatestUnusable,
            "unmapped-secret" => Cell::Unmapped,
            "plaintext-secret" => Cell::Plaintext,
            "verification-incomplete" => Cell::Unverified,
            "invalid-secret-id"
            | "invalid-version"
            | "mapping-conflict"
            | "manifest-schema"
            | "secret-value-in-manifest" => Cell::Invalid,
            _ => return None,
        })
    }

    /// Which of two problems to show when a mapping has several (the worst wins). `blocked`
    /// comes from no finding of the entry's own, so it never competes with one.
    fn rank(self) -> u8 {
        match self {
            Cell::Ok | Cell::NotApplicable => 0,
            Cell::Blocked => 1,
            Cell::Unverified => 2,
            Cell::Plaintext => 3,
            Cell::Unmapped => 4,
            Cell::LatestUnusable => 5,
            Cell::Disabled => 6,
            Cell::Destroyed => 7,
            Cell::Invalid => 8,
            Cell::Missing => 9,
        }
    }
}

/// One declared mapping across environments.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub service: String,
    pub target: String,
    pub kind: &'static str,
    pub required: bool,
    /// The secret per environment, after templates.
    pub secrets: BTreeMap<String, String>,
    pub cells: BTreeMap<String, Cell>,
}

/// Required mappings that would resolve, out of all required mappings.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Count {
    pub ok: usize,
    pub total: usize,
}

impl Count {
    /// The share that resolves, in percent; 100 when nothing is required.
    pub fn percent(self) -> f64 {
        if self.total == 0 { 100.0 } else { self.ok as f64 * 100.0 / self.total as f64 }
    }

    fn add(&mut self, ok: bool) {
        self.total += 1;
        self.ok += usize::from(ok);
    }
}

/// A mapping that resolves in some environments and not in others.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gap {
    pub service: String,
    pub target: String,
    pub ok_in: Vec<String>,
    /// Environments where it does not resolve, with why.
    pub broken_in: BTreeMap<String, Cell>,
}

/// How many mappings are in each state, for every applicable mapping (required or not).
pub type StateCounts = BTreeMap<Cell, usize>;

/// An environment's project whose Secret Manager could not be read: its cells are
/// `unverified`, and the report says why once.
#[derive(Clone, Debug, Serialize)]
pub struct UnverifiedProject {
    pub project: String,
    pub reason: String,
}

/// The snapshots the report was built from are older than the limit (`snapshot-stale`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StaleSnapshot {
    /// When the oldest snapshot was captured, RFC 3339.
    pub captured_at: String,
    /// Its age in days, to one decimal.
    pub age_days: f64,
    /// The limit it is over.
    pub max_age_days: i64,
    /// Its age in words, to the hour.
    #[serde(skip)]
    pub age: String,
}

/// A service whose deploy to an environment the gate would refuse, with what refuses it.
#[derive(Clone, Debug, Serialize)]
pub struct Refused {
    pub service: String,
    pub environment: String,
    /// The gate's errors about the service there, one per rule and target.
    pub findings: Vec<RefusedBy>,
}

/// One error that refuses a deploy: its rule, and the entry it is about, if any.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RefusedBy {
    pub code: &'static str,
    pub target: Option<String>,
}

/// A secret that exists but that no service uses.
#[derive(Clone, Debug, Serialize)]
pub struct Orphan {
    pub project: String,
    pub secret: String,
    pub environments: Vec<String>,
}

/// A manifest entry whose secret exists in none of the environments it is declared for.
#[derive(Clone, Debug, Serialize)]
pub struct Dangling {
    pub service: String,
    pub target: String,
    pub secret: String,
}

/// The hygiene of the version one mapping uses in one environment.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hygiene {
    pub environment: String,
    pub service: String,
    pub target: String,
    pub secret: String,
    /// `latest`, a number or an alias, as declared; `None` when it could be a credential.
    pub declared_version: Option<String>,
    pub pinned: bool,
    /// The version number in use now.
    pub version: Option<u64>,
    pub age_days: Option<i64>,
    pub enabled_versions: usize,
    pub expire_time: Option<String>,
    pub rotation_period: Option<String>,
    pub next_rotation_time: Option<String>,
    pub rotation_overdue: bool,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Audit {
    pub environments: Vec<String>,
    pub rows: Vec<Row>,
    pub coverage: Count,
    pub per_environment: BTreeMap<String, Count>,
    pub per_service: BTreeMap<String, Count>,
    pub per_environment_states: BTreeMap<String, StateCounts>,
    pub per_service_states: BTreeMap<String, StateCounts>,
    pub unverified_projects: Vec<UnverifiedProject>,
    /// `None` for live data and for snapshots within the limit.
    pub stale_snapshot: Option<StaleSnapshot>,
    /// The deploys the gate would refuse, by environment, then in the manifest's order.
    pub refused: Vec<Refused>,
    pub gaps: Vec<Gap>,
    pub orphans: Vec<Orphan>,
    pub dangling: Vec<Dangling>,
    pub hygiene: Vec<Hygiene>,
    pub requests: usize,
}

/// What the report is built from besides the manifest and the findings of `check`.
pub struct Inputs<'a> {
    /// The findings the deploy gate would see (`lint` and `check`, without `--live`'s), which
    /// decide whether it refuses a service.
    pub gate_findings: &'a [Diagnostic],
    pub inventory: &'a Inventory,
    /// Secrets the specs (and live services) map, as (project, secret): see [`spec_references`].
    pub references: &'a BTreeSet<(String, String)>,
    pub ignore_orphans: &'a [String],
    pub now: Timestamp,
    /// The age in days past which the snapshots are reported as stale.
    pub max_snapshot_age_days: i64,
}

/// Builds the report from the manifest, the findings of `check` and the inventory.
pub fn build(
    manifest: &Manifest,
    envs: &[String],
    diagnostics: &[Diagnostic],
    from: &Inputs,
) -> Audit {
    let mut audit = empty(manifest, envs, from);
    let audited = manifest.environments.iter().filter(|e| envs.contains(&e.name.value));
    // Each environment is resolved once, and its deployments found by service name.
    let resolved: Vec<(&Environment, Vec<Deployment>)> =
        audited.map(|env| (env, resolve::resolve(manifest, env, &mut Vec::new()))).collect();
    let deployments: Vec<HashMap<&str, &Deployment>> = resolved
        .iter()
        .map(|(_, ds)| ds.iter().map(|d| (d.service.name.value.as_str(), d)).collect())
        .collect();
    let defined = manifest.environments.iter().map(|e| e.name.value.as_str()).collect();
    let given = Given {
        manifest,
        findings: ByService::of(diagnostics),
        gate: ByService::of(from.gate_findings),
        defined,
        from,
    };
    for service in &manifest.services {
        let places = resolved
            .iter()
            .zip(&deployments)
            .map(|((env, _), ds)| (*env, ds.get(service.name.value.as_str()).copied()));
        add_service(&mut audit, &given, service, &places.collect::<Vec<_>>());
    }
    audit.refused.sort_by_key(|r| envs.iter().position(|e| *e == r.environment));
    audit.orphans = orphans(manifest, envs, from);
    hide_credentials(&mut audit);
    audit
}

/// Describes, rather than prints, an entry's key or secret that looks like a credential (which
/// `secret-value-in-manifest` reports), as findings do: every format writes the report's names
/// as they are. Done last, since the rows are matched with findings by their keys as written.
fn hide_credentials(audit: &mut Audit) {
    let hide = |name: &mut String| *name = crate::diagnostic::unless_credential(name);
    for row in &mut audit.rows {
        hide(&mut row.target);
        row.secrets.values_mut().for_each(hide);
    }
    audit.gaps.iter_mut().for_each(|g| hide(&mut g.target));
    for d in &mut audit.dangling {
        hide(&mut d.target);
        hide(&mut d.secret);
    }
    for h in &mut audit.hygiene {
        hide(&mut h.target);
        hide(&mut h.secret);
    }
}

/// The report before any row: what does not depend on the entries.
fn empty(manifest: &Manifest, envs: &[String], from: &Inputs) -> Audit {
    Audit {
        environments: envs.to_vec(),
        rows: Vec::new(),
        coverage: Count::default(),
        per_environment: BTreeMap::new(),
        per_service: BTreeMap::new(),
        per_environment_states: BTreeMap::new(),
        per_service_states: BTreeMap::new(),
        unverified_projects: unverified_projects(manifest, envs, from.inventory),
        stale_snapshot: stale_snapshot(from),
        refused: Vec::new(),
        gaps: Vec::new(),
        orphans: Vec::new(),
        dangling: Vec::new(),
        hygiene: Vec::new(),
        requests: from.inventory.requests,
    }
}

/// Findings by the service they name; those about no service are under `None`.
struct ByService<'d>(HashMap<Option<&'d str>, Vec<&'d Diagnostic>>);

impl<'d> ByService<'d> {
    fn of(diagnostics: &'d [Diagnostic]) -> ByService<'d> {
        let mut by: HashMap<Option<&str>, Vec<&Diagnostic>> = HashMap::new();
        for d in diagnostics.iter().filter(|d| d.severity != Severity::Note) {
            by.entry(d.service.as_deref()).or_default().push(d);
        }
        ByService(by)
    }

    /// The findings that concern `service` in `env`: about it or about no service, in `env`,
    /// in no environment, or in one the manifest does not define (`unknown-environment`, which
    /// refuses every deploy).
    fn concerning(&self, service: &str, env: &str, defined: &HashSet<&str>) -> Vec<&'d Diagnostic> {
        let in_env = |d: &&&Diagnostic| {
            d.environment.as_deref().is_none_or(|e| e == env || !defined.contains(e))
        };
        let found = [Some(service), None].into_iter().filter_map(|key| self.0.get(&key));
        found.flatten().filter(in_env).copied().collect()
    }
}

/// What every row is built from.
struct Given<'a> {
    manifest: &'a Manifest,
    /// Every finding of the audit, `--live`'s included: they decide the cells.
    findings: ByService<'a>,
    /// What the deploy gate would see: it decides which deploys are refused.
    gate: ByService<'a>,
    /// The manifest's environment names.
    defined: HashSet<&'a str>,
    from: &'a Inputs<'a>,
}

/// The rows of one service's entries: their cells in every audited environment (`places`: each
/// with the service's deployment there, `None` where it is not deployed), the deploys the gate
/// would refuse, the counts, hygiene, gaps and dangling entries.
fn add_service(
    audit: &mut Audit,
    given: &Given,
    service: &Service,
    places: &[(&Environment, Option<&Deployment>)],
) {
    let manifest = given.manifest;
    let mut rows: Vec<Row> =
        service.secrets.iter().map(|e| new_row(manifest, service, e)).collect();
    let declared = Declared {
        targets: service.secrets.iter().map(|e| e.target.value.as_str()).collect(),
        keys: service.secrets.iter().map(|e| (manifest.file, e.target.span)).collect(),
    };
    for (env, deployment) in places {
        let name = &env.name.value;
        if deployment.is_none() {
            rows.iter_mut().for_each(|r| _ = r.cells.insert(name.clone(), Cell::NotApplicable));
            continue;
        }
        let cells = cells_in(given, service, &declared, &rows, name, audit);
        for (row, cell) in rows.iter_mut().zip(cells) {
            row.cells.insert(name.clone(), cell);
        }
    }
    for (index, mut row) in rows.into_iter().enumerate() {
        // Environments where the entry applies, and those where its secret does not exist.
        let (mut applicable, mut absent) = (0, 0);
        for (env, deployment) in places {
            let Some(deployment) = deployment else { continue };
            applicable += 1;
            // Resolving keeps the entries' order: the entry's binding is at its index.
            let binding = deployment.bindings.get(index);
            absent += usize::from(add_cell(audit, given, &mut row, env, binding));
        }
        audit.gaps.extend(gap(&row));
        if applicable > 0 && absent == applicable {
            audit.dangling.push(dangling(&row));
        }
        audit.rows.push(row);
    }
}

/// A new row for an entry, without cells yet.
fn new_row(manifest: &Manifest, service: &Service, entry: &SecretEntry) -> Row {
    Row {
        service: service.name.value.clone(),
        target: entry.target.value.clone(),
        kind: if entry.is_file() { "file" } else { "env" },
        required: manifest.is_required(entry),
        secrets: BTreeMap::new(),
        cells: BTreeMap::new(),
    }
}

/// The cells of a service's rows in `env`, where it is deployed: the worst of each row's
/// findings. When the gate would refuse the service for a problem that no required row shows,
/// the required rows without a problem of their own are `blocked`, so that the coverage is not
/// full for a deploy the gate refuses. Records the refusal.
fn cells_in(
    given: &Given,
    service: &Service,
    declared: &Declared,
    rows: &[Row],
    env: &str,
    audit: &mut Audit,
) -> Vec<Cell> {
    let name = service.name.value.as_str();
    let findings = given.findings.concerning(name, env, &given.defined);
    let scopes: Vec<RowScope> = rows
        .iter()
        .zip(&service.secrets)
        .map(|(row, e)| RowScope::new(given, row, e, declared))
        .collect();
    let mut cells: Vec<Cell> = scopes.iter().map(|scope| scope.worst(&findings)).collect();
    let blockers: Vec<&Diagnostic> = given.gate.concerning(name, env, &given.defined);
    let blockers: Vec<&Diagnostic> =
        blockers.into_iter().filter(|d| d.severity == Severity::Error).collect();
    let required = || scopes.iter().filter(|s| s.row.required);
    let hidden = blockers.iter().any(|b| required().all(|s| s.cell(b).is_none()));
    if hidden {
        for (cell, scope) in cells.iter_mut().zip(&scopes) {
            if scope.row.required && *cell == Cell::Ok {
                *cell = Cell::Blocked;
            }
        }
    }
    if !blockers.is_empty() {
        audit.refused.push(refused(name, env, &blockers));
    }
    cells
}

/// The refusal of a service's deploy to `env`, by the gate's errors about it.
fn refused(service: &str, env: &str, blockers: &[&Diagnostic]) -> Refused {
    let by: BTreeSet<RefusedBy> =
        blockers.iter().map(|d| RefusedBy { code: d.code, target: d.target.clone() }).collect();
    Refused {
        service: service.to_string(),
        environment: env.to_string(),
        findings: by.into_iter().collect(),
    }
}

/// Records a row's cell in an environment where the entry applies: its secret there, the
/// hygiene of the version it resolves to, and the counts. True when the entry's secret does
/// not exist there.
fn add_cell(
    audit: &mut Audit,
    given: &Given,
    row: &mut Row,
    env: &Environment,
    binding: Option<&Binding>,
) -> bool {
    let (inventory, name) = (given.from.inventory, &env.name.value);
    let mut absent = false;
    if let Some((binding, secret)) = binding.and_then(|b| Some((b, b.secret.as_ref()?))) {
        row.secrets.insert(name.clone(), secret.to_string());
        absent = is_absent(inventory, &secret.project, &secret.secret);
        audit.hygiene.extend(hygiene(name, &row.service, binding, inventory, given.from.now));
    }
    let cell = row.cells.get(name).copied().unwrap_or(Cell::NotApplicable);
    count(audit, name, row, cell);
    absent
}

/// Counts a cell by state for its environment and service, and, for a required entry,
/// towards coverage.
fn count(audit: &mut Audit, env: &str, row: &Row, cell: Cell) {
    count_state(&mut audit.per_environment_states, env, cell);
    count_state(&mut audit.per_service_states, &row.service, cell);
    if row.required {
        let ok = cell == Cell::Ok;
        audit.coverage.add(ok);
        audit.per_environment.entry(env.to_string()).or_default().add(ok);
        audit.per_service.entry(row.service.clone()).or_default().add(ok);
    }
}

fn count_state(counts: &mut BTreeMap<String, StateCounts>, name: &str, cell: Cell) {
    *counts.entry(name.to_string()).or_default().entry(cell).or_default() += 1;
}

/// The environments' own projects whose Secret Manager could not be read, with why.
fn unverified_projects(
    manifest: &Manifest,
    envs: &[String],
    inventory: &Inventory,
) -> Vec<UnverifiedProject> {
    let mut unread: BTreeMap<String, String> = BTreeMap::new();
    for env in envs.iter().filter_map(|e| manifest.environment(e)) {
        let Some(project) = &env.project else { continue };
        let reason = match inventory.projects.get(&project.value) {
            Some(ProjectInventory::Listed(_)) => continue,
            Some(ProjectInventory::Unverified(reason)) => reason.clone(),
            None if inventory.captured_at.is_some() => "not in the snapshots given".to_string(),
            None => "not read".to_string(),
        };
        unread.insert(project.value.clone(), reason);
    }
    unread.into_iter().map(|(project, reason)| UnverifiedProject { project, reason }).collect()
}

/// The snapshots' age when it is over the limit, as `snapshot-stale` reports it to `check`.
fn stale_snapshot(from: &Inputs) -> Option<StaleSnapshot> {
    use crate::rules::snapshot_stale::{age_over, describe_age};
    let captured = from.inventory.captured_at?;
    let age = age_over(captured, from.now, from.max_snapshot_age_days)?;
    Some(StaleSnapshot {
        captured_at: captured.to_string(),
        age_days: (age.as_secs_f64() / 8_640.0).round() / 10.0,
        max_age_days: from.max_snapshot_age_days,
        age: describe_age(age),
    })
}

/// Secrets that the services' specs map, and with `--live` the services as deployed, in every
/// environment, as (project, secret). The manifest is not the only user of a secret: a
/// sidecar's secret, which `import` leaves out of the manifest on purpose, or one a service
/// was given by hand, is in use all the same and is no orphan.
pub fn spec_references(
    manifest: &Manifest,
    root: &Path,
    sources: &Sources,
) -> BTreeSet<(String, String)> {
    let mut used = BTreeSet::new();
    for env in &manifest.environments {
        let project = env.project.as_ref().map_or("", |p| p.value.as_str());
        for deployment in resolve::resolve(manifest, env, &mut Vec::new()) {
            let file = deployment.spec_path.as_ref().map(|p| root.join(&p.value));
            // `check --live` keeps the service as deployed under this name.
            let live = env.region.as_ref().map(|region| {
                let name = &deployment.service.name.value;
                PathBuf::from(crate::cloudrun::display_name(project, &region.value, name))
            });
            for path in [file, live].into_iter().flatten() {
                let Some(spec) = spec_at(&path, root, sources) else { continue };
                let secrets = spec.mappings(project).into_iter().filter_map(|m| m.secret);
                used.extend(secrets.map(|s| (s.project, s.secret)));
            }
        }
    }
    used
}

/// The spec read from `path`: from the files this run has read (specs, live services), else
/// from disk, inside the manifest's folder `root`, for an environment that was not audited;
/// `None` when it is no readable service.
fn spec_at(path: &Path, root: &Path, sources: &Sources) -> Option<crate::spec::ServiceSpec> {
    let text = match sources.find(path) {
        Some(id) => sources.get(id).text.clone().into_bytes(),
        None => crate::source::read_inside(root, path, crate::yaml::MAX_FILE_BYTES).ok()?,
    };
    let tree = crate::yaml::parse(&text).ok()?;
    crate::spec::read(FileId(usize::MAX), tree, &mut Vec::new())
}

/// The entries the manifest declares for a service.
struct Declared<'a> {
    targets: HashSet<&'a str>,
    /// Where their keys are written: a finding about a key that looks like a credential names
    /// no target, and points at the key.
    keys: Vec<(FileId, crate::yaml::Span)>,
}

/// What tells whether a finding concerns a row.
struct RowScope<'a> {
    row: &'a Row,
    /// The entries the manifest declares for the row's service.
    declared: &'a Declared<'a>,
    /// Where the row's entry key is written: a finding about two entries (two secrets in one
    /// directory) names one as its target and points at the other with a second label.
    key: (FileId, crate::yaml::Span),
}

impl<'a> RowScope<'a> {
    fn new(
        given: &Given,
        row: &'a Row,
        entry: &SecretEntry,
        declared: &'a Declared<'a>,
    ) -> RowScope<'a> {
        RowScope { row, declared, key: (given.manifest.file, entry.target.span) }
    }

    /// The worst state the findings put the row in; `ok` when none concerns it.
    fn worst(&self, findings: &[&Diagnostic]) -> Cell {
        let cells = findings.iter().filter_map(|d| self.cell(d));
        cells.max_by_key(|c| c.rank()).unwrap_or(Cell::Ok)
    }

    /// The cell a finding puts the row in, if it concerns it. A finding about the row's own
    /// entry gives the state its code names, or `invalid` for any other error. An error about
    /// the service as a whole (no target, or a target the manifest does not declare, such as
    /// a spec's own mapping) or about no service at all stops the deploy too, so it reaches
    /// every cell it covers: `unverified` when it says what could not be verified, else
    /// `invalid`.
    fn cell(&self, d: &Diagnostic) -> Option<Cell> {
        let error = d.severity == Severity::Error;
        let own = || error.then_some(Cell::Invalid);
        match (d.service.as_deref(), d.target.as_deref()) {
            (Some(service), _) if service != self.row.service => None,
            (Some(_), Some(target)) if target == self.row.target => {
                Cell::from_code(d.code).or_else(own)
            }
            (Some(_), _) if self.points_at_entry(d) => own(),
            (Some(_), Some(target)) if self.declared.targets.contains(target) => None,
            (Some(_), None) if d.primary.as_ref().is_some_and(|l| self.declared.has_key(l)) => None,
            _ if !error => None,
            _ if d.code == crate::rules::verification_incomplete::RULE.code => {
                Some(Cell::Unverified)
            }
            _ => Some(Cell::Invalid),
        }
    }

    /// Whether the finding is written at the row's key, or points at it with a second label.
    fn points_at_entry(&self, d: &Diagnostic) -> bool {
        let (file, span) = self.key;
        d.primary.iter().chain(&d.secondary).any(|l| l.file == file && l.span == span)
    }
}

impl Declared<'_> {
    fn has_key(&self, label: &Label) -> bool {
        self.keys.contains(&(label.file, label.span))
    }
}

fn gap(row: &Row) -> Option<Gap> {
    let ok_in: Vec<String> =
        row.cells.iter().filter(|(_, c)| **c == Cell::Ok).map(|(e, _)| e.clone()).collect();
    let broken_in: BTreeMap<String, Cell> = row
        .cells
        .iter()
        .filter(|(_, c)| {
            !matches!(c, Cell::Ok | Cell::NotApplicable | Cell::Unverified | Cell::Blocked)
        })
        .map(|(e, c)| (e.clone(), *c))
        .collect();
    (!ok_in.is_empty() && !broken_in.is_empty()).then(|| Gap {
        service: row.service.clone(),
        target: row.target.clone(),
        ok_in,
        broken_in,
    })
}

/// Whether a project was listed and has no such secret (a missing version does not count, nor
/// does a project that could not be listed).
fn is_absent(inventory: &Inventory, project: &str, secret: &str) -> bool {
    matches!(
        inventory.projects.get(project),
        Some(ProjectInventory::Listed(s)) if !s.contains_key(secret)
    )
}

fn dangling(row: &Row) -> Dangling {
    Dangling {
        service: row.service.clone(),
        target: row.target.clone(),
        secret: row.secrets.values().next().cloned().unwrap_or_default(),
    }
}

fn hygiene(
    env: &str,
    service: &str,
    binding: &Binding,
    inventory: &Inventory,
    now: Timestamp,
) -> Option<Hygiene> {
    let secret = binding.secret.as_ref()?;
    let Some(ProjectInventory::Listed(secrets)) = inventory.projects.get(&secret.project) else {
        return None;
    };
    let info: &SecretInfo = secrets.get(&secret.secret)?;
    let versions = info.versions.as_ref().ok()?;
    // A row shows an expiry and a rotation only when they could be read: "never" and "none"
    // would say more than is known. The mapping is reported unverified instead.
    let (Ok(expire_time), Ok(next_rotation_time)) = (&info.expire_time, &info.next_rotation_time)
    else {
        return None;
    };
    let declared = binding.version.clone()?;
    let number = match &declared {
        Version::Latest => versions.first().map(|v| v.number),
        Version::Number(n) => versions.iter().any(|v| v.number == *n).then_some(*n),
        Version::Alias(a) => info.aliases.as_ref().ok().and_then(|m| m.get(a).copied()),
    };
    let version = number.and_then(|n| versions.iter().find(|v| v.number == n));
    let created = version.and_then(|v| v.create_time.as_ref().ok().copied().flatten());
    Some(Hygiene {
        environment: env.to_string(),
        service: service.to_string(),
        target: binding.target().to_string(),
        secret: secret.secret.clone(),
        declared_version: Some(declared.to_string()).filter(|v| crate::diagnostic::may_show(v)),
        pinned: declared != Version::Latest,
        version: number,
        age_days: created.map(|c| now.duration_since(c).as_secs() / 86_400),
        enabled_versions: versions.iter().filter(|v| v.state == Ok(VersionState::Enabled)).count(),
        expire_time: expire_time.map(|t| t.to_string()),
        rotation_period: info.rotation_period.clone(),
        next_rotation_time: next_rotation_time.map(|t| t.to_string()),
        rotation_overdue: next_rotation_time.is_some_and(|t| t <= now),
    })
}

/// Whether `name` matches a pattern where `*` stands for any run of characters.
pub fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

fn orphans(manifest: &Manifest, envs: &[String], from: &Inputs) -> Vec<Orphan> {
    let (inventory, ignore) = (from.inventory, from.ignore_orphans);
    // Secrets in use by any environment, audited or not: two environments may share a project.
    let mut used: BTreeSet<(String, String)> = from.references.clone();
    for env in &manifest.environments {
        for deployment in resolve::resolve(manifest, env, &mut Vec::new()) {
            let secrets = deployment.bindings.into_iter().filter_map(|b| b.secret);
            used.extend(secrets.map(|s| (s.project, s.secret)));
        }
    }
    let mut by_project: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for env in manifest.environments.iter().filter(|e| envs.contains(&e.name.value)) {
        if let Some(p) = &env.project {
            by_project.entry(p.value.clone()).or_default().push(env.name.value.clone());
        }
    }
    let mut out = Vec::new();
    for (project, environments) in by_project {
        let Some(ProjectInventory::Listed(secrets)) = inventory.projects.get(&project) else {
            continue;
        };
        let mut names: Vec<&String> = secrets.keys().collect();
        names.sort();
        for name in names {
            let ignored = ignore.iter().any(|p| glob(p, name));
            if ignored || used.contains(&(project.clone(), name.clone())) {
                continue;
            }
            out.push(Orphan {
                project: project.clone(),
                secret: name.clone(),
                environments: environments.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_stars() {
        assert!(glob("terraform-*", "terraform-state-key"));
        assert!(glob("*-legacy", "api-legacy"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXcYYb"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
    }
}
