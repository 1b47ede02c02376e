//! The audit report as a terminal table, Markdown, JSON or a self-contained HTML page.

use super::{Audit, Cell, Count, StateCounts};
use crate::report::escape_controls;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Terminal table; `color` marks problem cells in red and ok in green. Names are written with
/// their control characters escaped, so that the colours are the only escape sequences.
pub fn table(audit: &Audit, color: bool) -> String {
    let paint = |cell: Cell, text: &str| -> String {
        let code = match cell {
            Cell::Ok => "32",
            Cell::NotApplicable => "2",
            Cell::Unverified | Cell::Blocked => "33",
            _ => "31",
        };
        if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    };
    let mut out = String::new();
    let _ = writeln!(out, "Secret coverage: {}", coverage_line(audit));
    if let Some(stale) = &audit.stale_snapshot {
        let _ = writeln!(out, "Warning: {}", stale_text(stale));
    }
    let names: Vec<String> = audit
        .rows
        .iter()
        .map(|r| escape_controls(&format!("{} / {}", r.service, r.target)))
        .collect();
    let name_width = names.iter().map(String::len).max().unwrap_or(0).max("service / target".len());
    let environments: Vec<String> = audit.environments.iter().map(|e| escape_controls(e)).collect();
    let col = environments.iter().map(String::len).max().unwrap_or(0).max(15);
    // The last column is not padded, so that no line ends in spaces.
    let last = audit.environments.len().saturating_sub(1);
    let width = |i: usize| if i == last { 0 } else { col };
    let _ = write!(out, "\n{:name_width$}  {:3}", "service / target", "req");
    for (i, env) in environments.iter().enumerate() {
        let _ = write!(out, "  {env:0$}", width(i));
    }
    out.push('\n');
    for (row, name) in audit.rows.iter().zip(&names) {
        let _ = write!(out, "{name:name_width$}  {:3}", if row.required { "yes" } else { "no" });
        for (i, env) in audit.environments.iter().enumerate() {
            let cell = row.cells.get(env).copied().unwrap_or(Cell::NotApplicable);
            let text = format!("{:1$}", cell.as_str(), width(i));
            let _ = write!(out, "  {}", paint(cell, &text));
        }
        out.push('\n');
    }
    let mut rest = String::new();
    for table in count_tables(audit) {
        let _ = writeln!(rest, "\n{} ({COUNTS_NOTE}):", table.title);
        rest.push_str(&aligned(&table.header, &table.rows));
    }
    sections(audit, &mut rest, false);
    out.push_str(&escape_controls(&rest));
    out
}

/// What the count tables hold, said once under each title.
const COUNTS_NOTE: &str =
    "required ok: required mappings that resolve; then every applicable mapping by state";

/// One count table: its title, its header and its rows.
struct CountTable {
    title: &'static str,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// The two count tables: per service and per environment.
fn count_tables(audit: &Audit) -> [CountTable; 2] {
    [
        count_table(
            audit,
            ("Counts per service", "service"),
            &audit.per_service,
            &audit.per_service_states,
        ),
        count_table(
            audit,
            ("Counts per environment", "environment"),
            &audit.per_environment,
            &audit.per_environment_states,
        ),
    ]
}

/// A count table titled `title`, with a row per `kind` (service or environment): the name,
/// the required mappings that resolve (`3 of 6`), their share, and how many mappings are in
/// each state that occurs in the report.
fn count_table(
    audit: &Audit,
    (title, kind): (&'static str, &str),
    counts: &BTreeMap<String, Count>,
    states: &BTreeMap<String, StateCounts>,
) -> CountTable {
    let columns = occurring_states(audit);
    let mut header = vec![kind.to_string(), "required ok".into(), "coverage".into()];
    header.extend(columns.iter().map(|c| c.as_str().to_string()));
    let names: BTreeSet<&String> = counts.keys().chain(states.keys()).collect();
    let rows = names
        .into_iter()
        .map(|name| {
            let count = counts.get(name).copied().unwrap_or_default();
            let mut row = vec![
                name.clone(),
                format!("{} of {}", count.ok, count.total),
                format!("{:.1}%", count.percent()),
            ];
            let by_state = states.get(name);
            let n = |c: &Cell| by_state.and_then(|s| s.get(c)).copied().unwrap_or(0);
            row.extend(columns.iter().map(|c| n(c).to_string()));
            row
        })
        .collect();
    CountTable { title, header, rows }
}

/// The states of applicable mappings that occur anywhere in the report, in a fixed order.
fn occurring_states(audit: &Audit) -> Vec<Cell> {
    let found: BTreeSet<Cell> =
        audit.per_service_states.values().flat_map(|s| s.keys().copied()).collect();
    found.into_iter().collect()
}

/// Columns aligned with two spaces between them and an indent of two; the last column is not
/// padded, so that no line ends in spaces.
fn aligned(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].len()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for line in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        out.push_str("  ");
        for (i, cell) in line.iter().enumerate() {
            if i + 1 == line.len() {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:0$}  ", widths[i]);
            }
        }
        out.push('\n');
    }
    out
}

fn coverage_line(audit: &Audit) -> String {
    let mut line = format!(
        "{:.1}% ({} of {} required mappings resolve)",
        audit.coverage.percent(),
        audit.coverage.ok,
        audit.coverage.total
    );
    for (env, count) in &audit.per_environment {
        let _ = write!(line, "; {env} {:.1}%", count.percent());
    }
    line
}

/// Markdown for a pull request comment or a wiki page; names are in code spans, and control
/// characters escaped.
pub fn markdown(audit: &Audit) -> String {
    let mut out = String::from("# Secret coverage\n\n");
    let _ = writeln!(out, "Coverage: **{}**\n", coverage_line(audit));
    if let Some(stale) = &audit.stale_snapshot {
        let _ = writeln!(out, "> **Stale snapshot:** {}\n", stale_text(stale));
    }
    for p in &audit.unverified_projects {
        let _ = writeln!(out, "> **Not verified:** {}\n", unverified_text(p));
    }
    let _ = write!(out, "| service | target | required |");
    for env in &audit.environments {
        let _ = write!(out, " {} |", md_cell(env));
    }
    let _ = write!(out, "\n|---|---|---|");
    for _ in &audit.environments {
        out.push_str("---|");
    }
    out.push('\n');
    for row in &audit.rows {
        let _ = write!(
            out,
            "| {} | {} | {} |",
            md_cell(&row.service),
            md_code(&row.target),
            if row.required { "yes" } else { "no" }
        );
        for env in &audit.environments {
            let cell = row.cells.get(env).copied().unwrap_or(Cell::NotApplicable);
            let mark =
                if cell == Cell::Ok { "ok".to_string() } else { format!("**{}**", cell.as_str()) };
            let _ = write!(
                out,
                " {} |",
                if cell == Cell::NotApplicable { "n/a".to_string() } else { mark }
            );
        }
        out.push('\n');
    }
    for table in count_tables(audit) {
        let _ = writeln!(out, "\n## {}\n\n{}.\n", table.title, capitalized(COUNTS_NOTE));
        let _ = writeln!(out, "| {} |", table.header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(table.header.len()));
        for row in table.rows {
            let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }
    sections(audit, &mut out, true);
    escape_controls(&out)
}

/// `text` as a Markdown code span in a table cell: fenced by more backticks than it holds in a
/// row, so that a backtick in a name cannot end the span and turn the rest into Markdown.
fn md_code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{}{pad}{fence}", md_cell(text))
}

/// Text for a cell of a Markdown table: a `|` would end the cell (inside code spans too), and
/// a line break the row (a carriage return is escaped with the other control characters).
fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// How old the snapshots are, against the limit.
fn stale_text(stale: &super::StaleSnapshot) -> String {
    format!(
        "the snapshot was captured on {}, {} ago, over the limit of {} days; secrets may have \
         changed since (capture a fresh one with `secretgate snapshot`)",
        stale.captured_at, stale.age, stale.max_age_days
    )
}

/// Which project was not verified, and why.
fn unverified_text(p: &super::UnverifiedProject) -> String {
    format!("project `{}` ({}); its cells are `unverified`", p.project, p.reason)
}

/// The lists after the matrix and the count tables, each under its title: the deploys the gate
/// would refuse, gaps, orphans and dangling entries. `code` writes a target or a secret (as a
/// Markdown code span, or as it is).
fn lists(audit: &Audit, code: fn(&str) -> String) -> [(&'static str, Vec<String>); 4] {
    let refused = audit.refused.iter().map(|r| {
        let by: Vec<String> = r
            .findings
            .iter()
            .map(|f| match &f.target {
                Some(target) => format!("{} ({})", f.code, code(target)),
                None => f.code.to_string(),
            })
            .collect();
        format!("{} in {}: {}", r.service, r.environment, by.join(", "))
    });
    let gaps = audit.gaps.iter().map(|g| {
        let broken: Vec<String> =
            g.broken_in.iter().map(|(e, c)| format!("{e} ({})", c.as_str())).collect();
        format!(
            "{} / {}: ok in {}, not in {}",
            g.service,
            code(&g.target),
            g.ok_in.join(", "),
            broken.join(", ")
        )
    });
    let orphans = audit.orphans.iter().map(|o| {
        format!("{} ({})", code(&format!("{}/{}", o.project, o.secret)), o.environments.join(", "))
    });
    let dangling = audit
        .dangling
        .iter()
        .map(|d| format!("{} / {}: {}", d.service, code(&d.target), code(&d.secret)));
    [
        ("Deploys the gate would refuse", refused.collect()),
        ("Gaps between environments", gaps.collect()),
        ("Orphaned secrets (exist, used by no service)", orphans.collect()),
        ("Manifest entries whose secret exists nowhere", dangling.collect()),
    ]
}

/// The sections after the matrix, as plain text or Markdown.
fn sections(audit: &Audit, out: &mut String, md: bool) {
    let heading = |out: &mut String, title: &str| {
        let _ = if md { writeln!(out, "\n## {title}\n") } else { writeln!(out, "\n{title}:") };
    };
    let bullet = if md { "- " } else { "  " };
    let code = if md { md_code } else { str::to_string };
    for (title, items) in lists(audit, code) {
        heading(out, title);
        if items.is_empty() {
            let _ = writeln!(out, "{bullet}none");
        }
        for item in items {
            let _ = writeln!(out, "{bullet}{item}");
        }
    }
    heading(out, "Hygiene");
    if md {
        out.push_str(
            "| env | service | target | secret | version | pinned | age (days) | enabled \
            versions | expires | rotation |\n|---|---|---|---|---|---|---|---|---|---|\n",
        );
    }
    for h in &audit.hygiene {
        hygiene_line(out, h, md);
    }
}

/// One mapping's hygiene, as a Markdown table row or a line of text.
fn hygiene_line(out: &mut String, h: &super::Hygiene, md: bool) {
    let version = h.version.map_or("?".to_string(), |v| v.to_string());
    let rotation = match (&h.rotation_period, &h.next_rotation_time, h.rotation_overdue) {
        (_, Some(next), true) => format!("OVERDUE since {next}"),
        (Some(p), Some(next), false) => format!("every {p}, next {next}"),
        (_, Some(next), false) => format!("next {next}"),
        _ => "none".to_string(),
    };
    let expires = h.expire_time.clone().unwrap_or_else(|| "never".into());
    let pinned = if h.pinned { "pinned" } else { "latest" };
    if md {
        let age = h.age_days.map_or("?".to_string(), |a| a.to_string());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {version} | {pinned} | {age} | {} | {} | {} |",
            md_cell(&h.environment),
            md_cell(&h.service),
            md_code(&h.target),
            md_code(&h.secret),
            h.enabled_versions,
            md_cell(&expires),
            md_cell(&rotation),
        );
    } else {
        let age = h.age_days.map_or("? days".to_string(), |a| counted(a, "day"));
        let _ = writeln!(
            out,
            "  {} {} {}: {} v{version} ({pinned}), {age} old, {}, expires {expires}, rotation \
            {rotation}",
            h.environment,
            h.service,
            h.target,
            h.secret,
            counted(h.enabled_versions, "enabled version"),
        );
    }
}

/// `1 day`, `2 days`: a count with its noun, singular for one.
fn counted(n: impl std::fmt::Display, noun: &str) -> String {
    let n = n.to_string();
    if n == "1" { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// The stable JSON document.
pub fn json(audit: &Audit) -> String {
    let mut doc = serde_json::Map::new();
    doc.insert("version".into(), 1.into());
    doc.insert("command".into(), "audit".into());
    let body = serde_json::to_value(audit).unwrap_or_default();
    if let serde_json::Value::Object(map) = body {
        doc.extend(map);
    }
    doc.insert(
        "coveragePercent".into(),
        serde_json::json!((audit.coverage.percent() * 10.0).round() / 10.0),
    );
    let mut text =
        serde_json::to_string_pretty(&serde_json::Value::Object(doc)).unwrap_or_default();
    text.push('\n');
    text
}

/// `text` for HTML, its control characters escaped as in the other formats.
fn escape(text: &str) -> String {
    escape_controls(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HTML page's head: inline CSS only.
const HTML_HEAD: &str = concat!(
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n",
    "<title>Secret coverage report</title>\n<style>\n",
    "body{font-family:system-ui,sans-serif;margin:2em;color:#1b1f24}",
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em}\n",
    "th,td{border:1px solid #c8ccd1;padding:.3em .6em;text-align:left;vertical-align:top}",
    "th{background:#f0f2f4}td{white-space:nowrap}td.rotation{white-space:normal}\n",
    "td.ok{background:#d7f5dd}td.bad{background:#f9d0d0;font-weight:bold}",
    "td.warn{background:#fff1c2}td.na{background:#eee;color:#888}\n",
    "p.warn{background:#fff1c2;padding:.4em .6em}\n",
    ".legend span{display:inline-block;padding:.1em .5em;margin-right:.5em}\n",
    "code{font-family:ui-monospace,\"DejaVu Sans Mono\",Menlo,Consolas,monospace;",
    "font-size:.95em}\n",
    "</style></head><body>\n<h1>Secret coverage report</h1>\n",
);

/// What the colours of the matrix mean, for a reader who never used the tool.
const HTML_LEGEND: &str = concat!(
    "<p class=\"legend\">Each cell says whether the secret a service needs would reach it in ",
    "that environment: <span class=\"ok\" style=\"background:#d7f5dd\">ok</span>",
    "<span style=\"background:#f9d0d0\">a problem (missing, disabled, ...)</span>",
    "<span style=\"background:#fff1c2\">could not be verified, or blocked by another ",
    "problem of the service</span>",
    "<span style=\"background:#eee\">service not deployed there</span></p>\n",
);

/// One self-contained HTML page: inline CSS, no scripts, no network fetches.
pub fn html(audit: &Audit) -> String {
    let mut out = String::from(HTML_HEAD);
    let _ = writeln!(
        out,
        "<p>Required secret mappings that would resolve: <strong>{}</strong>.</p>",
        escape(&coverage_line(audit))
    );
    if let Some(stale) = &audit.stale_snapshot {
        let _ = writeln!(
            out,
            "<p class=\"warn\"><strong>Stale snapshot:</strong> {}</p>",
            escape(&stale_text(stale))
        );
    }
    for p in &audit.unverified_projects {
        let _ = writeln!(
            out,
            "<p class=\"warn\"><strong>Not verified:</strong> {}</p>",
            escape(&unverified_text(p))
        );
    }
    out.push_str(HTML_LEGEND);
    matrix_html(&mut out, audit);
    for table in count_tables(audit) {
        table_html(&mut out, &table);
    }
    for (title, items) in lists(audit, str::to_string) {
        list_html(&mut out, title, &items);
    }
    hygiene_html(&mut out, audit);
    out.push_str("</body></html>\n");
    out
}

/// The coverage matrix as a colour-coded table.
fn matrix_html(out: &mut String, audit: &Audit) {
    out.push_str(
        "<h2>Coverage matrix</h2>\n<table><tr><th>service</th><th>env var or \
        file</th><th>required</th>",
    );
    for env in &audit.environments {
        let _ = write!(out, "<th>{}</th>", escape(env));
    }
    out.push_str("</tr>\n");
    for row in &audit.rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td>",
            escape(&row.service),
            escape(&row.target),
            if row.required { "yes" } else { "no" }
        );
        for env in &audit.environments {
            let cell = row.cells.get(env).copied().unwrap_or(Cell::NotApplicable);
            let class = match cell {
                Cell::Ok => "ok",
                Cell::NotApplicable => "na",
                Cell::Unverified | Cell::Blocked => "warn",
                _ => "bad",
            };
            let _ = write!(out, "<td class=\"{class}\">{}</td>", cell.as_str());
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// The hygiene table, with overdue and missing rotations marked.
fn hygiene_html(out: &mut String, audit: &Audit) {
    out.push_str(
        "<h2>Hygiene</h2>\n<table><tr><th>environment</th><th>service</th><th>env var or \
        file</th><th>secret</th><th>version in use</th><th>pinned</th><th>age \
        (days)</th><th>enabled versions</th><th>expires</th><th>next rotation</th></tr>\n",
    );
    for h in &audit.hygiene {
        let rotation = match (&h.next_rotation_time, h.rotation_overdue) {
            (Some(next), true) => {
                format!("<td class=\"bad rotation\">overdue since {}</td>", escape(next))
            }
            (Some(next), false) => format!("<td class=\"rotation\">{}</td>", escape(next)),
            (None, _) => "<td class=\"warn rotation\">no rotation</td>".to_string(),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td>\
            <td>{}</td><td>{}</td><td>{}</td>{rotation}</tr>",
            escape(&h.environment),
            escape(&h.service),
            escape(&h.target),
            escape(&h.secret),
            h.version.map_or("?".to_string(), |v| v.to_string()),
            if h.pinned { "yes" } else { "no (latest)" },
            h.age_days.map_or("?".to_string(), |a| a.to_string()),
            h.enabled_versions,
            escape(h.expire_time.as_deref().unwrap_or("never")),
        );
    }
    out.push_str("</table>\n");
}

/// A count table in HTML, under its title and what it holds.
fn table_html(out: &mut String, table: &CountTable) {
    let (header, rows) = (&table.header, &table.rows);
    let _ = writeln!(out, "<h2>{}</h2>", escape(table.title));
    let _ = writeln!(out, "<p>{}.</p>\n<table><tr>", escape(&capitalized(COUNTS_NOTE)));
    for cell in header {
        let _ = write!(out, "<th>{}</th>", escape(cell));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// A list under its title; "None." when it is empty.
fn list_html(out: &mut String, title: &str, items: &[String]) {
    let _ = writeln!(out, "<h2>{}</h2>", escape(title));
    if items.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    out.push_str("<ul>\n");
    for item in items {
        let _ = writeln!(out, "<li>{}</li>", escape(item));
    }
    out.push_str("</ul>\n");
}
