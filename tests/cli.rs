//! The user-visible surface of the binary: help texts, the rule list, every output format of
//! `lint`, exit codes, and the committed JSON Schema.
//!
//! Snapshots live in tests/snapshots/. After an intended change of output, review the diff of
//! `INSTA_UPDATE=always cargo test --test cli` and commit the updated `.snap` files.

mod common;

use common::Run;
use serde_json::Value;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The manifest of tests/fixtures/cli: a few findings of each severity.
fn fixture() -> PathBuf {
    Path::new(ROOT).join("tests/fixtures/cli/secrets.yaml")
}

/// A plaintext value in the fixture's spec, which no output may show.
const PLAINTEXT_VALUE: &str = "plaintext-token-value-41";

/// Runs the binary with `args` in the fixed environment of [`common::secretgate`].
fn secretgate(args: &[&str]) -> Run {
    common::run(common::secretgate().args(args))
}

/// Runs `lint` on the fixture in one format; it has errors, so the exit code is 1.
fn lint_fixture(format: &str) -> String {
    let manifest = fixture();
    let run = secretgate(&["lint", "--manifest", manifest.to_str().unwrap(), "--format", format]);
    assert_eq!(run.code, 1, "lint --format {format} exits 1 on errors; stderr:\n{}", run.stderr);
    assert!(
        !run.stdout.contains(PLAINTEXT_VALUE),
        "the {format} output shows a plaintext secret value:\n{}",
        run.stdout
    );
    run.stdout
}

/// The codes `secretgate rules` lists, in order.
fn rule_codes() -> Vec<String> {
    let run = secretgate(&["rules"]);
    assert_eq!(run.code, 0);
    run.stdout.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect()
}

#[test]
fn help() {
    let run = secretgate(&["--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!("help", run.stdout);
}

/// The help of every subcommand, as reviewed snapshots (`lint_help.snap`, `deploy_help.snap`,
/// ...).
#[test]
fn help_of_every_subcommand() {
    for command in subcommands() {
        let run = secretgate(&[&command, "--help"]);
        assert_eq!(run.code, 0, "{command} --help:\n{run}");
        insta::assert_snapshot!(format!("{command}_help"), run.stdout);
    }
}

/// The commands that can end with an exit code other than 0 and 2, and the codes each can
/// return, which its help lists.
const EXIT_CODES: &[(&str, &[&str])] = &[
    ("lint", &["0", "1", "2"]),
    ("check", &["0", "1", "2", "3"]),
    ("snapshot", &["0", "1", "2", "3"]),
    ("deploy", &["0", "1", "2", "3", "4"]),
    ("render", &["0", "1", "2"]),
    ("audit", &["0", "1", "2"]),
];

/// The lines of one section of a help text, from its heading to the next blank line.
fn section<'a>(help: &'a str, heading: &str) -> Vec<&'a str> {
    let start = help.lines().position(|l| l == heading);
    let lines = help.lines().skip(start.map_or(usize::MAX, |s| s + 1));
    lines.take_while(|l| !l.is_empty()).collect()
}

/// Regression: `lint --help` and `check --help` used clap's long layout and the others the
/// compact one; global options sat among each command's own; only the top-level help and
/// `deploy --help` gave exit codes. Now `-h` and `--help` print the same compact text
/// everywhere, the global options have a heading of their own, every subcommand shows an
/// example, and those that can end with more than 0 or 2 give the exit codes they can return.
#[test]
fn every_help_has_one_layout_global_options_examples_and_exit_codes() {
    let top = secretgate(&["--help"]).stdout;
    let exit_codes = section(&top, "Exit codes:");
    assert_eq!(exit_codes.len(), 5, "the top-level help lists five exit codes:\n{top}");
    for command in subcommands() {
        let long = secretgate(&[&command, "--help"]).stdout;
        let short = secretgate(&[&command, "-h"]).stdout;
        assert_eq!(long, short, "`{command} --help` and `{command} -h` differ");
        let own = section(&long, "Options:");
        let global = section(&long, "Global options:");
        for option in ["--manifest <PATH>", "--color <COLOR>", "-q, --quiet", "-v, --verbose"] {
            assert!(global.iter().any(|l| l.contains(option)), "{command}: {option}:\n{long}");
            assert!(!own.iter().any(|l| l.contains(option)), "{command}: {option}:\n{long}");
        }
        let example = long.lines().any(|l| l.starts_with("Example"));
        assert!(example && long.contains("  secretgate "), "{command} has no example:\n{long}");
        if let Some((_, codes)) = EXIT_CODES.iter().find(|(c, _)| *c == command) {
            let listed = section(&long, "Exit codes:");
            let listed: Vec<&str> =
                listed.iter().filter_map(|l| l.split_whitespace().next()).collect();
            assert_eq!(listed, *codes, "{command} lists other exit codes:\n{long}");
        }
    }
}

/// The README's rule tables say of every rule what `secretgate rules` says, word for word.
#[test]
fn readme_rule_tables_match_the_rules_command() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let listed = secretgate(&["rules"]).stdout;
    for line in listed.lines() {
        let mut parts = line.splitn(2, ' ');
        let code = parts.next().unwrap_or_default();
        let rest = parts.next().unwrap_or_default().trim_start();
        let summary = rest.split_once(' ').map_or("", |(_, s)| s.trim_start());
        let row = readme.lines().find(|l| l.starts_with(&format!("| `{code}` |")));
        let row = row.unwrap_or_else(|| panic!("README has no row for {code}"));
        assert!(row.ends_with(&format!("| {summary} |")), "{code}:\n{row}\n{summary}");
    }
}

#[test]
fn rules_list() {
    let run = secretgate(&["rules"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!("rules", run.stdout);
}

#[test]
fn explain_a_rule() {
    let run = secretgate(&["explain", "unpinned-version"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("unpinned-version (error): "), "{}", run.stdout);
    insta::assert_snapshot!("explain_unpinned_version", run.stdout);
}

#[test]
fn explain_every_listed_rule() {
    for code in rule_codes() {
        let run = secretgate(&["explain", &code]);
        assert_eq!(run.code, 0, "explain {code}: {}", run.stderr);
        assert!(run.stdout.starts_with(&format!("{code} (")), "explain {code}: {}", run.stdout);
    }
}

/// `--color` applies to clap's own output too: help and usage errors, which clap writes before
/// it has parsed the option.
#[test]
fn color_applies_to_help_and_usage_errors() {
    let colored = |run: &Run| run.stdout.contains('\u{1b}') || run.stderr.contains('\u{1b}');
    for args in
        [&["--color", "always", "lint", "--bogus"][..], &["lint", "--help", "--color=always"]]
    {
        assert!(colored(&secretgate(args)), "{args:?} is coloured");
    }
    for args in [&["--color", "never", "lint", "--bogus"][..], &["lint", "--help"]] {
        assert!(!colored(&secretgate(args)), "{args:?} is not coloured");
    }
    let run = secretgate(&["--color", "always", "lint", "--bogus"]);
    assert_eq!(run.code, 2, "{run}");
}

#[test]
fn explain_unknown_code_is_a_usage_error() {
    let run = secretgate(&["explain", "nosuch"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("no rule has the code `nosuch`"), "{}", run.stderr);
    assert!(run.stderr.contains("`secretgate rules` lists every code"), "{}", run.stderr);
}

#[test]
fn explain_misspelt_code_suggests_the_closest() {
    let run = secretgate(&["explain", "unpined-version"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("did you mean `unpinned-version`?"), "{}", run.stderr);
}

#[test]
fn lint_json() {
    let text = lint_fixture("json");
    let doc: Value = serde_json::from_str(&text).expect("lint --format json prints JSON");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["summary"]["errors"], 3);
    assert_eq!(doc["summary"]["warnings"], 1);
    insta::assert_snapshot!("lint_json", text);
}

#[test]
fn lint_human() {
    let text = lint_fixture("human");
    for place in [
        "secrets.yaml:19:7",
        "deploy/api.yaml:14:17",
        "deploy/api.yaml:17:18",
        "deploy/api.yaml:31:21",
    ] {
        assert!(text.contains(&format!("[{place}]")), "no excerpt at {place}:\n{text}");
    }
    assert!(text.ends_with("\nsecretgate: 3 errors, 1 warning\n"), "summary line:\n{text}");
    assert!(!text.contains('\u{1b}'), "NO_COLOR output has escape sequences:\n{text}");
    insta::assert_snapshot!("lint_human", text);
}

/// Regression: the shipped incident's help line was wrapped inside `netra-staging`, at its
/// hyphen, so that the gcloud command could not be copied. Lines break at blanks only.
#[test]
fn human_output_never_splits_a_word() {
    let snapshot = Path::new(ROOT).join("deploy/snapshots/staging-incident.json");
    let args = ["deploy", "--env", "staging", "--dry-run", "--snapshot"];
    let run = common::run(common::secretgate().args(args).arg(&snapshot).current_dir(ROOT));
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.contains("--project netra-staging"), "{run}");
    assert!(run.stdout.contains("(for\n  │ `/secrets/oauth/client-secret`)"), "{run}");
    // `netra-` or `/secrets/` at the end of a line; `--data-file=-` ends with a hyphen whole.
    let cut = |line: &&str| {
        let line = line.trim_end();
        let before = line.trim_end_matches(['-', '/']);
        before.len() < line.len() && before.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    let split = run.stdout.lines().find(cut);
    assert_eq!(split, None, "a word is split at the end of a line:\n{run}");
}

#[test]
fn lint_human_quiet_has_no_summary() {
    let manifest = fixture();
    let run = secretgate(&["lint", "--quiet", "--manifest", manifest.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("unpinned-version"), "{}", run.stdout);
    assert!(!run.stdout.contains("secretgate: "), "{}", run.stdout);
}

#[test]
fn lint_github() {
    let text = lint_fixture("github");
    assert_eq!(text.lines().count(), 4, "one workflow command per finding:\n{text}");
    assert!(text.lines().all(|l| l.starts_with("::error ") || l.starts_with("::warning ")));
    insta::assert_snapshot!("lint_github", text);
}

#[test]
fn lint_sarif() {
    let text = lint_fixture("sarif");
    let mut doc: Value = serde_json::from_str(&text).expect("lint --format sarif prints JSON");
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("a rules array");
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap_or_default()).collect();
    assert_eq!(ids, rule_codes(), "SARIF rules and `secretgate rules` differ");
    let results = run["results"].as_array().expect("a results array");
    assert_eq!(results.len(), 4);
    for result in results {
        let rule_id = result["ruleId"].as_str().expect("ruleId");
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(ids[index], rule_id, "ruleIndex points at another rule");
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap()));
        let location = &result["locations"][0]["physicalLocation"];
        assert!(location["artifactLocation"]["uri"].is_string(), "{result}");
        assert!(location["region"]["startLine"].as_u64().unwrap() >= 1, "{result}");
        let fingerprint = &result["partialFingerprints"]["secretgateFinding/v1"];
        assert!(fingerprint.as_str().is_some_and(|f| f.starts_with(rule_id)), "{result}");
    }
    // The rule texts are checked above and by `explain`; the tool version changes with releases.
    doc["runs"][0]["tool"]["driver"]["rules"] = Value::from("[every rule, checked above]");
    doc["runs"][0]["tool"]["driver"]["version"] = Value::from("[version]");
    let shown = serde_json::to_string_pretty(&doc).unwrap();
    insta::assert_snapshot!("lint_sarif", shown);
}

#[test]
fn lint_shipped_example_is_clean() {
    let manifest = Path::new(ROOT).join("secrets.yaml");
    let run = secretgate(&["lint", "--manifest", manifest.to_str().unwrap()]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "secretgate: no problems found\n");
}

#[test]
fn lint_unknown_environment_is_a_usage_error() {
    let manifest = Path::new(ROOT).join("secrets.yaml");
    let run = secretgate(&["lint", "--manifest", manifest.to_str().unwrap(), "--env", "prod"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown environment `prod`"), "{}", run.stderr);
}

/// The subcommands `secretgate --help` lists (a wrapped summary goes on indented further).
fn subcommands() -> Vec<String> {
    let run = secretgate(&["--help"]);
    let listed = run.stdout.split("Commands:\n").nth(1).expect("a command list");
    let lines = listed.lines().take_while(|l| l.starts_with("  "));
    let names = lines.filter(|l| !l.starts_with("   ")).filter_map(|l| l.split_whitespace().next());
    names.filter(|name| *name != "help").map(str::to_string).collect()
}

/// How a shell's completion script offers a subcommand.
fn offer(shell: &str, command: &str) -> String {
    match shell {
        "bash" => format!("secretgate,{command})"),
        "zsh" => format!("'{command}:"),
        _ => format!("-a \"{command}\""),
    }
}

/// Each shell's script offers every subcommand, in the form that shell's completion takes, and
/// the options of a subcommand.
#[test]
fn completions_offer_every_subcommand() {
    let commands = subcommands();
    for known in ["lint", "deploy", "completions"] {
        assert!(commands.iter().any(|c| c == known), "`{known}` not read: {commands:?}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let run = secretgate(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for command in &commands {
            let offered = run.stdout.contains(&offer(shell, command));
            assert!(offered, "{shell} does not offer `{command}`");
        }
        assert!(run.stdout.contains("pin-versions"), "{shell} lacks deploy's options");
    }
}

#[test]
fn committed_schema_is_up_to_date() {
    let run = secretgate(&["schema"]);
    assert_eq!(run.code, 0);
    let path = Path::new(ROOT).join("secrets.schema.json");
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == run.stdout.as_bytes(),
        "{} differs from `secretgate schema`; regenerate it with \
         `cargo run -q -- schema > secrets.schema.json`",
        path.display()
    );
}

/// The property names of a schema object.
fn property_names(schema: &Value) -> Vec<&str> {
    let properties = schema["properties"].as_object().expect("an object schema with properties");
    properties.keys().map(String::as_str).collect()
}

/// Every `type` in a schema, recursively.
fn types(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            match map.get("type") {
                Some(Value::String(t)) => out.push(t.clone()),
                Some(Value::Array(ts)) => out.extend(ts.iter().map(|t| t.to_string())),
                _ => {}
            }
            map.values().for_each(|v| types(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| types(v, out)),
        _ => {}
    }
}

#[test]
fn schema_describes_the_manifest() {
    let schema: Value = serde_json::from_str(&secretgate(&["schema"]).stdout).expect("JSON");
    assert_eq!(schema["type"], "object");
    assert_eq!(property_names(&schema), ["version", "environments", "policy", "services"]);
    assert_eq!(schema["required"], serde_json::json!(["version", "environments", "services"]));
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["properties"]["version"]["minimum"], 1);
    assert_eq!(schema["properties"]["version"]["maximum"], 1);
    // The reader refuses `null` for every key; an editor must not offer it.
    let mut all = Vec::new();
    types(&schema, &mut all);
    assert!(!all.iter().any(|t| t.contains("null")), "the schema allows null: {all:?}");
}

/// The keys of a YAML mapping node.
fn keys(node: &secretgate::yaml::Node) -> Vec<String> {
    let entries = node.as_map().expect("a mapping");
    entries.iter().filter_map(|(k, _)| k.as_str()).map(str::to_string).collect()
}

#[test]
fn schema_covers_every_key_of_the_shipped_manifest() {
    let schema: Value = serde_json::from_str(&secretgate(&["schema"]).stdout).expect("JSON");
    let defs = &schema["$defs"];
    let text = std::fs::read(Path::new(ROOT).join("secrets.yaml")).unwrap();
    assert!(
        text.starts_with(b"# yaml-language-server: $schema=secrets.schema.json\n"),
        "secrets.yaml no longer points editors at secrets.schema.json"
    );
    let root = secretgate::yaml::parse(&text).expect("the shipped manifest parses");
    let check = |node: &secretgate::yaml::Node, def: &Value, what: &str| {
        let known = property_names(def);
        for key in keys(node) {
            assert!(known.contains(&key.as_str()), "`{key}` of {what} is not in the schema");
        }
    };
    check(&root, &schema, "the manifest");
    for (_, env) in root.get("environments").unwrap().as_map().unwrap() {
        check(env, &defs["EnvironmentSchema"], "an environment");
    }
    check(root.get("policy").unwrap(), &defs["PolicySchema"], "the policy");
    for (_, service) in root.get("services").unwrap().as_map().unwrap() {
        check(service, &defs["ServiceSchema"], "a service");
        for (_, entry) in service.get("secrets").unwrap().as_map().unwrap() {
            check(entry, &defs["EntrySchema"], "a secret entry");
        }
    }
}
