//! `openapi.yaml` as real clients take it: two validators must pass it, a TypeScript client
//! generated from it (openapi-typescript) must type-check (`tsc --strict`) against answers the
//! live service gave to every endpoint, errors included, and schemathesis, driving the served
//! document with every check it has, must find nothing. The tools are those pinned in `checks/`
//! (installed by `.ci/run`); without them a test says it is skipped, except under `CI=true`,
//! where that is a failure.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use pnode_tools::sim::{SimConfig, SimNetwork};
use serde_json::Value;

use crate::{
    collecting::fast_settings,
    helpers::{Backend, TestApp, spawn_app_with},
};

on_both_backends!(
    the_typescript_client_compiles_against_every_live_answer,
    schemathesis_finds_no_failure_in_the_served_document
);

fn checks_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../checks")
}

fn openapi_yaml() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml")
}

/// A tool installed under `checks/`, or `None` (the test is skipped) when it is not there.
fn tool(relative: &str) -> Option<PathBuf> {
    let path = checks_dir().join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(
        !std::env::var("CI").is_ok_and(|ci| ci == "true"),
        "{} is missing under CI=true: .ci/run installs it",
        path.display()
    );
    eprintln!("skipped: {} is not installed (see .ci/run)", path.display());
    None
}

/// Runs `command`, panicking with its output unless it succeeds.
fn run(mut command: Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("{what}: {err}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{what} failed:\n{text}");
    text
}

#[test]
fn openapi_yaml_passes_openapi_spec_validator() {
    let Some(python) = tool(".venv/bin/python") else {
        return;
    };
    let mut command = Command::new(python);
    command
        .args(["-m", "openapi_spec_validator"])
        .arg(openapi_yaml());
    let said = run(command, "openapi-spec-validator");
    assert!(said.contains("OK"), "{said}");
}

/// A YAML 1.1 reader (PyYAML) loads every value of `openapi.yaml` as the JSON document has it:
/// no example time becomes a date.
#[test]
fn openapi_yaml_reads_the_same_in_pyyaml_as_the_served_json() {
    let Some(python) = tool(".venv/bin/python") else {
        return;
    };
    let script = "import json, sys, yaml\n\
        loaded = yaml.safe_load(open(sys.argv[1]))\n\
        served = json.loads(sys.stdin.read())\n\
        def differ(a, b, at):\n    \
            if isinstance(a, dict) and isinstance(b, dict):\n        \
                return next((d for k in sorted(set(a) | set(b), key=str) \
                    for d in [differ(a.get(k), b.get(k), at + '/' + str(k))] if d), None)\n    \
            if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):\n        \
                return next((d for i, (x, y) in enumerate(zip(a, b)) \
                    for d in [differ(x, y, at + '/' + str(i))] if d), None)\n    \
            return None if type(a) == type(b) and a == b else at + ': ' + repr(a)[:80] + ' vs ' + repr(b)[:80]\n\
        print(differ(loaded, served, '') or 'SAME')\n";
    let served = serde_json::to_string(&pnode_api::web::openapi::document()).expect("JSON");
    let mut child = Command::new(python)
        .args(["-c", script])
        .arg(openapi_yaml())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), served.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("python");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.trim() == "SAME",
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn openapi_yaml_passes_redocly_lint_with_the_recommended_rules() {
    let Some(redocly) = tool("node_modules/.bin/redocly") else {
        return;
    };
    let mut command = Command::new(redocly);
    command
        .arg("lint")
        .arg(openapi_yaml())
        .arg("--config")
        .arg(checks_dir().join("redocly.yaml"))
        .args(["--max-problems", "50"]);
    let said = run(command, "redocly lint");
    assert!(
        !said.contains("Warning was generated"),
        "no warnings either:\n{said}"
    );
}

/// What every endpoint answers, errors included: (the request, its answer, the type the generated
/// client gives that answer).
async fn answers(app: &TestApp, pubkey: &str, seed: &str) -> Vec<(String, Value, String)> {
    let json =
        |path: &str, status: u16, operation: &str| (path.to_owned(), status, operation.to_owned());
    let requests = [
        json(
            "/api/pnodes",
            200,
            r#"paths["/api/pnodes"]["get"]["responses"][200]"#,
        ),
        json(
            "/api/pnodes?limit=5&offset=2&sort=uptime&order=desc",
            200,
            r#"paths["/api/pnodes"]["get"]["responses"][200]"#,
        ),
        json(
            &format!("/api/pnodes/{pubkey}"),
            200,
            r#"paths["/api/pnodes/{pubkey}"]["get"]["responses"][200]"#,
        ),
        json(
            "/api/pnodes?limit=0",
            400,
            r#"paths["/api/pnodes"]["get"]["responses"][400]"#,
        ),
        json(
            "/api/pnodes/nobody",
            404,
            r#"paths["/api/pnodes/{pubkey}"]["get"]["responses"][404]"#,
        ),
        json(
            &format!("/api/pnodes/{pubkey}/history"),
            200,
            r#"paths["/api/pnodes/{pubkey}/history"]["get"]["responses"][200]"#,
        ),
        json(
            "/api/leaderboard",
            200,
            r#"paths["/api/leaderboard"]["get"]["responses"][200]"#,
        ),
        json(
            "/api/leaderboard?metric=uptime&limit=3",
            200,
            r#"paths["/api/leaderboard"]["get"]["responses"][200]"#,
        ),
        json(
            "/api/leaderboard?metric=speed",
            400,
            r#"paths["/api/leaderboard"]["get"]["responses"][400]"#,
        ),
        json(
            "/api/network",
            200,
            r#"paths["/api/network"]["get"]["responses"][200]"#,
        ),
        json(
            "/api/network/history",
            200,
            r#"paths["/api/network/history"]["get"]["responses"][200]"#,
        ),
        json(
            "/api/seeds",
            200,
            r#"paths["/api/seeds"]["get"]["responses"][200]"#,
        ),
        json(
            "/api/seeds/1/pnodes?limit=3",
            200,
            r#"paths["/api/seeds/{id}/pnodes"]["get"]["responses"][200]"#,
        ),
        json(
            "/api/ingestion-status",
            200,
            r#"paths["/api/ingestion-status"]["get"]["responses"][200]"#,
        ),
        json(
            &format!("/api/ingestion-status?seedBaseUrl={seed}"),
            200,
            r#"paths["/api/ingestion-status"]["get"]["responses"][200]"#,
        ),
        json(
            "/api/ingestion-status?seedBaseUrl=ftp://x",
            400,
            r#"paths["/api/ingestion-status"]["get"]["responses"][400]"#,
        ),
        json(
            "/api/health",
            200,
            r#"paths["/api/health"]["get"]["responses"][200]"#,
        ),
        json(
            "/api/ready",
            200,
            r#"paths["/api/ready"]["get"]["responses"][200]"#,
        ),
        json(
            "/api/system/memory",
            200,
            r#"paths["/api/system/memory"]["get"]["responses"][200]"#,
        ),
        json(
            "/api/nowhere",
            404,
            r#"paths["/api/health"]["get"]["responses"]["4XX"]"#,
        ),
    ];
    let mut answers = Vec::new();
    for (path, status, schema) in requests {
        let response = app.get(&path).await;
        assert_eq!(response.status().as_u16(), status, "GET {path}");
        let body: Value = response.json().await.expect("JSON");
        answers.push((format!("GET {path}"), body, schema));
    }
    let response = app
        .client
        .post(app.url("/api/pnodes"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 405);
    answers.push((
        "POST /api/pnodes".to_owned(),
        response.json().await.expect("JSON"),
        r#"paths["/api/pnodes"]["get"]["responses"]["4XX"]"#.to_owned(),
    ));
    answers
}

/// A TypeScript module declaring each answer as a constant of its documented type: `tsc` then
/// checks every value against the client's types, and (object literals being checked for excess
/// properties) that no answer carries a field the document does not declare.
fn typescript_module(answers: &[(String, Value, String)]) -> String {
    let mut module = String::from(
        "import type { paths } from \"./schema\";\n\
         type Json<R> = R extends { content: { \"application/json\": infer T } } ? T : never;\n",
    );
    for (index, (request, body, schema)) in answers.iter().enumerate() {
        let _ = writeln!(
            module,
            "// {request}\nexport const answer{index}: Json<{schema}> = {body};"
        );
    }
    module
}

async fn the_typescript_client_compiles_against_every_live_answer(backend: Backend) {
    let (Some(generator), Some(tsc)) = (
        tool("node_modules/.bin/openapi-typescript"),
        tool("node_modules/.bin/tsc"),
    ) else {
        return;
    };
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let seed = sim.seed_urls()[0].clone();
    let app = spawn_app_with(&backend, |settings| {
        settings.seeds = sim.seed_urls().join(",").parse().expect("seeds");
        settings.collector = fast_settings();
    })
    .await;
    app.wait_for_a_cycle().await;
    let answers = answers(&app, &sim.pods()[0].pubkey, &seed).await;

    let dir = tempfile::tempdir().expect("temp dir");
    let mut generate = Command::new(generator);
    generate
        .arg(openapi_yaml())
        .arg("--output")
        .arg(dir.path().join("schema.d.ts"));
    run(generate, "openapi-typescript");
    std::fs::write(dir.path().join("answers.ts"), typescript_module(&answers)).expect("write");
    run(type_check(&tsc, dir.path()), "tsc --strict");

    // The check can fail: a pubkey turned into a number, or a field the document does not
    // declare, does not compile.
    for (wrong, error) in [
        ("pubkey", "Type 'number' is not assignable to type 'string'"),
        (
            "undeclaredField",
            "undeclaredField\"' does not exist in type",
        ),
    ] {
        let mut answers = answers[..1].to_vec();
        answers[0].1["globalPnodes"][0][wrong] = Value::from(42);
        std::fs::write(dir.path().join("answers.ts"), typescript_module(&answers)).expect("write");
        let output = type_check(&tsc, dir.path()).output().expect("tsc");
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(
            !output.status.success() && said.contains(error),
            "{wrong}: {said}"
        );
    }
}

/// `tsc --strict` of `answers.ts` (and the client it imports) in `dir`, emitting nothing.
fn type_check(tsc: &Path, dir: &Path) -> Command {
    let mut command = Command::new(tsc);
    command.current_dir(dir).args([
        "--strict",
        "--noEmit",
        "--target",
        "es2022",
        "--module",
        "es2022",
        "--moduleResolution",
        "bundler",
        "answers.ts",
    ]);
    command
}

/// schemathesis (every check, every phase: examples, coverage, fuzzing, stateful) over
/// `/api/openapi.json` of an app that collects while it is driven. Its seed is fixed, so a run
/// repeats; `checks/schemathesis.toml` holds the one rule OpenAPI cannot state (the history
/// windows). Zero failures are allowed.
async fn schemathesis_finds_no_failure_in_the_served_document(backend: Backend) {
    let Some(schemathesis) = tool(".venv/bin/schemathesis") else {
        return;
    };
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let app = spawn_app_with(&backend, |settings| {
        settings.seeds = sim.seed_urls().join(",").parse().expect("seeds");
        settings.collector = fast_settings();
        settings.events.heartbeat = Duration::from_millis(200);
    })
    .await;
    app.wait_for_a_cycle().await;

    // Its example database and reports go to a directory of the test's own.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(schemathesis);
    command
        .current_dir(dir.path())
        .arg("--config-file")
        .arg(checks_dir().join("schemathesis.toml"))
        .args(["--no-color", "run"])
        .arg(app.url("/api/openapi.json"))
        .args(["--checks", "all", "--max-examples", "40", "--seed", "1"])
        .args(["--continue-on-failure", "--max-response-time", "10"]);
    let said = run(command, "schemathesis");
    let summary = said
        .lines()
        .skip_while(|line| !line.contains("SUMMARY"))
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("{summary}");
    let document = app.get_json("/api/openapi.json").await;
    let operations: usize = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| item.as_object().map_or(0, |methods| methods.len()))
        .sum();
    assert!(
        summary.contains(&format!("Tested: {operations}")),
        "every one of {operations} operations: {summary}"
    );
    assert!(!summary.contains("Failures:"), "{summary}");
    sim.stop().await;
}
