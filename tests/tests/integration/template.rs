//! The SAM template agrees with the code: it declares the table the store defines (same keys, indexes, stream
//! and TTL; `flare_aws::schema::table_definition` is the one source), API Gateway sends every route to the
//! function whose router serves it (on the SSO endpoint too), and the dispatcher reads the stream the way
//! `flare_aws::stream::handle` expects, with no more permission than it uses. It also holds what a security
//! review asked of it: the table outlives the stack, every function, queue and the stream's lag has an alarm,
//! and every checkov suppression says why. Its outputs name the table, for `flare --table`.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Body;
use flare_http::{AppState, HttpConfig};
use http::{Request, StatusCode};
use tower::ServiceExt;
use yaml_rust2::{Yaml, YamlLoader};

use crate::support;

fn template() -> Yaml {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml");
    YamlLoader::load_from_str(&text).expect("the template is YAML").remove(0)
}

fn key_schema(keys: &Yaml) -> Vec<(String, String)> {
    let keys = keys.as_vec().expect("a KeySchema list");
    keys.iter()
        .map(|k| (k["AttributeName"].as_str().unwrap().to_string(), k["KeyType"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn the_template_declares_the_table_the_store_defines() {
    let def = flare_aws::schema::table_definition();
    let doc = template();
    let table = &doc["Resources"]["Table"];
    assert_eq!(table["Type"].as_str(), Some("AWS::DynamoDB::Table"));
    let props = &table["Properties"];

    assert_eq!(props["BillingMode"].as_str(), Some(def.billing_mode));
    assert_eq!(
        key_schema(&props["KeySchema"]),
        vec![(def.partition_key.to_string(), "HASH".to_string()), (def.sort_key.to_string(), "RANGE".to_string())]
    );

    let declared: BTreeSet<(String, String)> = props["AttributeDefinitions"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| (a["AttributeName"].as_str().unwrap().into(), a["AttributeType"].as_str().unwrap().into()))
        .collect();
    let defined: BTreeSet<(String, String)> =
        def.attributes.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    assert_eq!(declared, defined, "AttributeDefinitions");

    let indexes = props["GlobalSecondaryIndexes"].as_vec().unwrap();
    assert_eq!(indexes.len(), def.indexes.len(), "number of GSIs");
    for index in &def.indexes {
        let declared = indexes
            .iter()
            .find(|i| i["IndexName"].as_str() == Some(index.name))
            .unwrap_or_else(|| panic!("the template lacks GSI {}", index.name));
        assert_eq!(
            key_schema(&declared["KeySchema"]),
            vec![(index.partition_key.into(), "HASH".into()), (index.sort_key.into(), "RANGE".into())],
            "keys of GSI {}",
            index.name
        );
        assert_eq!(declared["Projection"]["ProjectionType"].as_str(), Some(index.projection), "{}", index.name);
    }

    assert_eq!(props["StreamSpecification"]["StreamViewType"].as_str(), Some(def.stream_view_type));
    assert_eq!(props["TimeToLiveSpecification"]["AttributeName"].as_str(), Some(def.ttl_attribute));
    assert_eq!(props["TimeToLiveSpecification"]["Enabled"].as_bool(), Some(true));
}

/// (function, method, path) of every HttpApi event in the template.
fn template_routes(doc: &Yaml) -> Vec<(String, String, String)> {
    let mut routes = Vec::new();
    for (name, resource) in doc["Resources"].as_hash().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(events) = resource["Properties"]["Events"].as_hash() else { continue };
        for event in events.values().filter(|e| e["Type"].as_str() == Some("HttpApi")) {
            let props = &event["Properties"];
            let method = props["Method"].as_str().unwrap().to_uppercase();
            let path = props["Path"].as_str().unwrap().to_string();
            routes.push((name.as_str().unwrap().to_string(), method, path));
        }
    }
    routes
}

/// Whether an API Gateway route path (with `{param}` segments) matches a concrete path.
fn matches(pattern: &str, path: &str) -> bool {
    let (p, c): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == c.len() && p.iter().zip(&c).all(|(p, c)| (p.starts_with('{') && p.ends_with('}')) || p == c)
}

/// Whether `router` has a route for this method and path (any answer but "no such route" or 405).
async fn serves(router: &Router, method: &str, path: &str) -> bool {
    let request = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        return false;
    }
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    !String::from_utf8_lossy(&body).contains("no such route")
}

#[tokio::test]
async fn api_gateway_sends_every_route_to_the_function_that_serves_it() {
    let backend = support::sqlite().await;
    let state = AppState::new(backend.service(), HttpConfig::default());
    let functions = [
        ("IntakeFunction", flare_http::intake_router(state.clone())),
        ("DashboardFunction", flare_http::dashboard_router(state)),
    ];
    let declared = template_routes(&template());
    let routes = flare_http::routes();
    for (method, route) in &routes {
        let path = route.replace("{ticket}", "INC-1");
        let targets: Vec<_> = declared.iter().filter(|(_, m, p)| m == method && matches(p, &path)).collect();
        assert_eq!(targets.len(), 1, "{method} {route} must be routed to exactly one function: {targets:?}");
        let function = &targets[0].0;
        let (_, router) = functions.iter().find(|(name, _)| name == function).unwrap();
        assert!(serves(router, method, &path).await, "{method} {route} goes to {function}, which does not serve it");
    }
    for (function, method, pattern) in &declared {
        let known = routes.iter().any(|(m, r)| m == method && matches(pattern, &r.replace("{ticket}", "INC-1")));
        assert!(known, "{function} declares {method} {pattern}, which no router serves");
    }
}

/// The dispatcher's DynamoDB stream event.
fn dispatcher_stream(doc: &Yaml) -> &Yaml {
    let events = doc["Resources"]["DispatcherFunction"]["Properties"]["Events"].as_hash().expect("dispatcher events");
    let streams: Vec<_> = events.values().filter(|e| e["Type"].as_str() == Some("DynamoDB")).collect();
    assert_eq!(streams.len(), 1, "the dispatcher has one stream event");
    &streams[0]["Properties"]
}

/// The resource a `Fn::GetAtt: [Name, Arn]` or `Ref: Name` points at.
fn referenced<'a>(doc: &'a Yaml, value: &Yaml) -> &'a Yaml {
    let name = value["Fn::GetAtt"][0].as_str().or(value["Ref"].as_str()).expect("a reference to a resource");
    &doc["Resources"][name]
}

#[test]
fn the_dispatcher_reads_the_tables_stream_reporting_partial_failures() {
    let doc = template();
    let stream = dispatcher_stream(&doc);
    assert_eq!(
        stream["Stream"]["Fn::GetAtt"],
        Yaml::Array(vec![Yaml::String("Table".into()), Yaml::String("StreamArn".into())])
    );
    let types = stream["FunctionResponseTypes"].as_vec().expect("FunctionResponseTypes");
    assert!(types.iter().any(|t| t.as_str() == Some("ReportBatchItemFailures")), "{types:?}");
    assert_eq!(stream["BisectBatchOnFunctionError"].as_bool(), Some(true));
    assert!(stream["BatchSize"].as_i64().is_some() && stream["MaximumBatchingWindowInSeconds"].as_i64().is_some());
}

#[test]
fn the_dispatchers_retries_are_bounded_and_end_in_an_encrypted_queue() {
    let doc = template();
    let stream = dispatcher_stream(&doc);
    let retries = stream["MaximumRetryAttempts"].as_i64().expect("MaximumRetryAttempts");
    assert!((0..=100).contains(&retries), "a bounded retry limit, not {retries}");
    let age = stream["MaximumRecordAgeInSeconds"].as_i64().expect("MaximumRecordAgeInSeconds");
    assert!((60..24 * 3600).contains(&age), "records are given up on before the stream drops them, not at {age}");
    let on_failure = &stream["DestinationConfig"]["OnFailure"];
    assert_eq!(on_failure["Type"].as_str(), Some("SQS"));
    let queue = referenced(&doc, &on_failure["Destination"]);
    assert_eq!(queue["Type"].as_str(), Some("AWS::SQS::Queue"));
    let props = &queue["Properties"];
    assert!(props["SqsManagedSseEnabled"].as_bool() == Some(true) || !props["KmsMasterKeyId"].is_badvalue());
}

#[test]
fn the_tables_stream_carries_only_keys_because_the_dispatcher_reads_each_event_by_key() {
    let doc = template();
    let table = referenced(&doc, &dispatcher_stream(&doc)["Stream"]);
    assert_eq!(table["Properties"]["StreamSpecification"]["StreamViewType"].as_str(), Some("KEYS_ONLY"));
}

#[test]
fn the_dispatcher_is_sent_only_new_timeline_events() {
    let doc = template();
    let filters = dispatcher_stream(&doc)["FilterCriteria"]["Filters"].as_vec().expect("FilterCriteria.Filters");
    assert_eq!(filters.len(), 1);
    let pattern: serde_json::Value = serde_json::from_str(filters[0]["Pattern"].as_str().unwrap()).unwrap();
    assert_eq!(
        pattern,
        serde_json::json!({ "eventName": ["INSERT"], "dynamodb": { "Keys": { "sk": { "S": [{ "prefix": "EV#" }] } } } })
    );
    // The handler agrees: what the filter lets through is what it dispatches.
    let sample = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/dynamodb-stream.json"));
    let event: aws_lambda_events::event::dynamodb::Event = serde_json::from_str(&sample.unwrap()).unwrap();
    assert!(event.records.iter().all(|r| flare_aws::stream::timeline_event(r).is_some()));
}

/// Every IAM statement the dispatcher's role carries, both branches of an `Fn::If` included.
fn dispatcher_statements(doc: &Yaml) -> Vec<Yaml> {
    let function = &doc["Resources"]["DispatcherFunction"]["Properties"];
    let role = referenced(doc, &function["Role"]);
    assert_eq!(role["Type"].as_str(), Some("AWS::IAM::Role"), "the dispatcher has its own role");
    assert!(role["Properties"]["ManagedPolicyArns"].is_badvalue(), "no managed policy: each grant is written out");
    assert!(function["Policies"].is_badvalue(), "policies live on the role");
    let mut statements = Vec::new();
    for policy in role["Properties"]["Policies"].as_vec().expect("role policies") {
        for statement in policy["PolicyDocument"]["Statement"].as_vec().expect("statements") {
            match statement["Fn::If"].as_vec() {
                // The other branch may be `Ref: AWS::NoValue`.
                Some(branches) => {
                    statements.extend(branches[1..].iter().filter(|b| !b["Action"].is_badvalue()).cloned())
                }
                None => statements.push(statement.clone()),
            }
        }
    }
    statements
}

fn actions(statement: &Yaml) -> Vec<String> {
    match &statement["Action"] {
        Yaml::String(a) => vec![a.clone()],
        Yaml::Array(list) => list.iter().map(|a| a.as_str().unwrap().to_string()).collect(),
        other => panic!("an Action of {other:?}"),
    }
}

#[test]
fn the_dispatchers_role_grants_named_actions_and_never_scan() {
    let doc = template();
    let statements = dispatcher_statements(&doc);
    let granted: Vec<String> = statements.iter().flat_map(actions).collect();
    for action in &granted {
        assert!(!action.contains('*'), "wildcard action {action}");
        assert_ne!(action, "dynamodb:Scan");
    }
    assert!(statements.iter().all(|s| s["Effect"].as_str() == Some("Allow") && s["NotAction"].is_badvalue()));
    for delete in statements.iter().filter(|s| actions(s).iter().any(|a| a == "dynamodb:DeleteItem")) {
        let keys = &delete["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
        assert!(keys.as_vec().is_some_and(|k| !k.is_empty()), "deletes are held to named partitions: {delete:?}");
    }
    for needed in [
        "dynamodb:GetRecords",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "ses:SendBulkTemplatedEmail",
        "ses:SendRawEmail",
        "ses:CreateTemplate",
        "sns:Publish",
        "sqs:SendMessage",
        "secretsmanager:GetSecretValue",
    ] {
        assert!(granted.iter().any(|a| a == needed), "the dispatcher needs {needed}");
    }
}

#[test]
fn the_dispatcher_publishes_only_to_its_encrypted_topic() {
    let doc = template();
    let statements = dispatcher_statements(&doc);
    let publish = statements.iter().find(|s| actions(s) == ["sns:Publish"]).expect("a statement for sns:Publish");
    let topic = referenced(&doc, &publish["Resource"]);
    assert_eq!(topic["Type"].as_str(), Some("AWS::SNS::Topic"));
    assert_eq!(topic["Properties"]["KmsMasterKeyId"].as_str(), Some("alias/aws/sns"));
    let env = &doc["Resources"]["DispatcherFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(referenced(&doc, &env["FLARE_TOPIC_ARN"]), topic);
}

/// Every `Environment.Variables` map in the template, named by where it is: the globals and each function.
fn environments(doc: &Yaml) -> Vec<(String, &yaml_rust2::yaml::Hash)> {
    let mut found = Vec::new();
    if let Some(vars) = doc["Globals"]["Function"]["Environment"]["Variables"].as_hash() {
        found.push(("Globals".to_string(), vars));
    }
    for (name, resource) in doc["Resources"].as_hash().unwrap() {
        if let Some(vars) = resource["Properties"]["Environment"]["Variables"].as_hash() {
            found.push((name.as_str().unwrap().to_string(), vars));
        }
    }
    found
}

/// Every string inside a value, through intrinsic functions (`Fn::Sub`, `Fn::If`, `Fn::Join`...).
fn strings(value: &Yaml) -> Vec<&str> {
    match value {
        Yaml::String(s) => vec![s.as_str()],
        Yaml::Array(items) => items.iter().flat_map(strings).collect(),
        Yaml::Hash(map) => map.iter().flat_map(|(k, v)| strings(k).into_iter().chain(strings(v))).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn no_environment_value_in_the_template_is_a_secret() {
    let doc = template();
    let envs = environments(&doc);
    let names: Vec<&str> = envs.iter().flat_map(|(_, vars)| vars.keys().filter_map(Yaml::as_str)).collect();
    assert!(names.contains(&"FLARE_TABLE") && names.contains(&"FLARE_SENDER"), "the walk saw the environments");
    for (place, vars) in &envs {
        for (name, value) in vars.iter() {
            let name = name.as_str().unwrap();
            for text in strings(value) {
                assert!(!text.contains("{{resolve:secretsmanager"), "{place} resolves a secret into {name}");
                assert!(!text.contains("{{resolve:ssm-secure"), "{place} resolves a secure parameter into {name}");
            }
            let secret_named = ["SECRET", "PASSWORD", "TOKEN", "KEY"].iter().any(|word| name.contains(word));
            assert!(
                !secret_named || name.ends_with("_ARN"),
                "{place} puts a secret-named variable {name} in plain sight"
            );
        }
    }
}

/// The statements of a SAM function's inline `Policies`.
fn function_statements<'a>(doc: &'a Yaml, function: &str) -> Vec<&'a Yaml> {
    let policies = doc["Resources"][function]["Properties"]["Policies"].as_vec().expect("inline policies");
    policies.iter().flat_map(|p| p["Statement"].as_vec().into_iter().flatten()).collect()
}

#[test]
fn every_function_may_read_the_session_secret_it_is_pointed_at() {
    let doc = template();
    let session = Yaml::String("SessionSecretArn".into());
    let reads_session = |statement: &Yaml| {
        actions(statement) == ["secretsmanager:GetSecretValue"] && statement["Resource"]["Ref"] == session
    };
    let globals = &doc["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(globals["FLARE_SECRETS_ARN"]["Ref"], session, "the HTTP functions are pointed at the secret");
    for function in ["IntakeFunction", "DashboardFunction", "PollerFunction"] {
        assert!(function_statements(&doc, function).into_iter().any(reads_session), "{function} may read it");
    }
    let dispatcher = &doc["Resources"]["DispatcherFunction"]["Properties"]["Environment"]["Variables"];
    assert!(
        strings(&dispatcher["FLARE_SECRETS_ARN"]).contains(&"SessionSecretArn"),
        "the dispatcher reads the session secret, to sign unsubscribe links"
    );
    assert!(dispatcher_statements(&doc).iter().any(reads_session), "the dispatcher's role may read it");
}

#[test]
fn the_poller_runs_on_its_schedule_one_run_at_a_time() {
    let doc = template();
    let poller = &doc["Resources"]["PollerFunction"]["Properties"];
    let schedule = &poller["Events"]["Schedule"];
    assert_eq!(schedule["Type"].as_str(), Some("Schedule"));
    assert_eq!(schedule["Properties"]["Schedule"]["Ref"].as_str(), Some("PollSchedule"));
    assert_eq!(
        poller["ReservedConcurrentExecutions"].as_i64(),
        Some(1),
        "overlapping runs would race a probe's counts"
    );
    assert_eq!(poller["Environment"]["Variables"]["FLARE_POLL_SOURCES"]["Ref"].as_str(), Some("PollSources"));
}

#[test]
fn a_poll_run_that_keeps_failing_ends_in_an_encrypted_queue() {
    let doc = template();
    let poller = &doc["Resources"]["PollerFunction"]["Properties"];
    let invoke = &poller["EventInvokeConfig"];
    assert!(invoke["MaximumRetryAttempts"].as_i64().is_some_and(|n| n <= 2));
    let on_failure = &invoke["DestinationConfig"]["OnFailure"];
    assert_eq!(on_failure["Type"].as_str(), Some("SQS"));
    let queue = on_failure["Destination"]["Fn::GetAtt"][0].as_str().unwrap();
    let dead_letter = &poller["Events"]["Schedule"]["Properties"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0];
    assert_eq!(dead_letter.as_str(), Some(queue), "undeliverable schedule events go to the same queue");
    assert_eq!(doc["Resources"][queue]["Properties"]["KmsMasterKeyId"]["Ref"].as_str(), Some("FlareKey"));
}

#[test]
fn the_pollers_policy_names_its_actions_and_never_scans() {
    let doc = template();
    let statements = function_statements(&doc, "PollerFunction");
    let granted: Vec<String> = statements.iter().flat_map(|s| actions(s)).collect();
    for action in &granted {
        assert!(!action.contains('*') && action != "dynamodb:Scan", "{action}");
    }
    for delete in statements.iter().filter(|s| actions(s).iter().any(|a| a == "dynamodb:DeleteItem")) {
        let keys = &delete["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
        assert!(keys.as_vec().is_some_and(|k| !k.is_empty()), "deletes are held to named partitions: {delete:?}");
    }
    for needed in ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:TransactWriteItems"] {
        assert!(granted.iter().any(|a| a == needed), "the poller needs {needed}");
    }
}

#[test]
fn the_table_outlives_the_stack_a_replacement_and_a_stray_delete() {
    let doc = template();
    let table = &doc["Resources"]["Table"];
    assert_eq!(table["DeletionPolicy"].as_str(), Some("Retain"));
    assert_eq!(table["UpdateReplacePolicy"].as_str(), Some("Retain"));
    assert_eq!(table["Properties"]["DeletionProtectionEnabled"].as_bool(), Some(true));
    assert_eq!(
        table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
}

#[test]
fn the_stack_outputs_the_table_name_that_flare_table_needs() {
    let doc = template();
    let output = &doc["Outputs"]["TableName"];
    assert_eq!(output["Value"]["Ref"].as_str(), Some("Table"), "the README reads the table's name from this output");
}

/// Every resource of `kind`, by logical name.
fn resources<'a>(doc: &'a Yaml, kind: &str) -> Vec<(&'a str, &'a Yaml)> {
    let all = doc["Resources"].as_hash().expect("Resources");
    all.iter().filter(|(_, r)| r["Type"].as_str() == Some(kind)).map(|(n, r)| (n.as_str().unwrap(), r)).collect()
}

/// The alarms on `metric`, as (the resource its dimension names, the alarm).
fn alarms_on<'a>(doc: &'a Yaml, metric: &str) -> Vec<(String, &'a Yaml)> {
    resources(doc, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, a)| a["Properties"]["MetricName"].as_str() == Some(metric))
        .map(|(_, a)| {
            let target = &a["Properties"]["Dimensions"][0]["Value"];
            let name =
                target["Ref"].as_str().or(target["Fn::GetAtt"][0].as_str()).expect("a dimension naming a resource");
            (name.to_string(), a)
        })
        .collect()
}

#[test]
fn every_alarm_tells_the_alarm_topic_when_it_fires_and_when_it_clears() {
    let doc = template();
    let alarms = resources(&doc, "AWS::CloudWatch::Alarm");
    assert!(!alarms.is_empty());
    for (name, alarm) in alarms {
        for actions in ["AlarmActions", "OKActions"] {
            let topics: Vec<_> =
                alarm["Properties"][actions].as_vec().expect(actions).iter().map(|t| referenced(&doc, t)).collect();
            assert_eq!(topics, [&doc["Resources"]["AlarmTopic"]], "{name} {actions}");
        }
    }
}

#[test]
fn every_function_has_an_alarm_on_its_errors_and_one_on_its_throttles() {
    let doc = template();
    for metric in ["Errors", "Throttles"] {
        let watched: BTreeSet<String> = alarms_on(&doc, metric).into_iter().map(|(f, _)| f).collect();
        let functions: BTreeSet<String> =
            resources(&doc, "AWS::Serverless::Function").into_iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(watched, functions, "{metric}");
    }
}

#[test]
fn every_queue_has_an_alarm_on_its_depth() {
    let doc = template();
    let watched: BTreeSet<String> =
        alarms_on(&doc, "ApproximateNumberOfMessagesVisible").into_iter().map(|(q, _)| q).collect();
    let queues: BTreeSet<String> = resources(&doc, "AWS::SQS::Queue").into_iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(watched, queues);
}

#[test]
fn the_dispatcher_falling_behind_its_stream_raises_an_alarm() {
    let doc = template();
    let lag = alarms_on(&doc, "IteratorAge");
    assert_eq!(lag.len(), 1);
    assert_eq!(lag[0].0, "DispatcherFunction");
    assert_eq!(lag[0].1["Properties"]["Statistic"].as_str(), Some("Maximum"));
}

#[test]
fn the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use() {
    let doc = template();
    let topic = &doc["Resources"]["AlarmTopic"];
    let key = referenced(&doc, &topic["Properties"]["KmsMasterKeyId"]);
    assert_eq!(key["Type"].as_str(), Some("AWS::KMS::Key"), "CloudWatch cannot publish to a topic under alias/aws/sns");
    assert_eq!(key["Properties"]["EnableKeyRotation"].as_bool(), Some(true));
    let statements = key["Properties"]["KeyPolicy"]["Statement"].as_vec().expect("key policy");
    assert!(statements.iter().any(|s| s["Principal"]["Service"].as_str() == Some("cloudwatch.amazonaws.com")));
}

/// The SSO endpoint's routes: (route key, function its integration invokes, the route).
fn sso_routes(doc: &Yaml) -> Vec<(String, String, &Yaml)> {
    resources(doc, "AWS::ApiGatewayV2::Route")
        .into_iter()
        .map(|(_, route)| {
            let props = &route["Properties"];
            let target = props["Target"]["Fn::Sub"].as_str().expect("Target: integrations/${...}");
            let integration = target.trim_start_matches("integrations/${").trim_end_matches('}');
            let function = &doc["Resources"][integration]["Properties"]["IntegrationUri"]["Fn::GetAtt"][0];
            (props["RouteKey"].as_str().unwrap().to_string(), function.as_str().unwrap().to_string(), route)
        })
        .collect()
}

#[test]
fn the_sso_endpoint_serves_every_json_route_of_the_main_one_to_the_same_function() {
    let doc = template();
    let main: BTreeSet<(String, String)> = template_routes(&doc)
        .into_iter()
        .filter(|(_, _, path)| path.starts_with("/api/") && path != "/api/openapi.json")
        .map(|(function, method, path)| (format!("{method} {path}"), function))
        .collect();
    let sso: BTreeSet<(String, String)> =
        sso_routes(&doc).into_iter().map(|(key, function, _)| (key, function)).collect();
    assert_eq!(sso, main);
}

#[test]
fn every_sso_route_needs_a_token_the_authorizer_verified() {
    let doc = template();
    let routes = sso_routes(&doc);
    assert!(!routes.is_empty());
    for (key, _, route) in routes {
        assert_eq!(route["Properties"]["AuthorizationType"].as_str(), Some("JWT"), "{key}");
        let authorizer = referenced(&doc, &route["Properties"]["AuthorizerId"]);
        assert_eq!(authorizer["Properties"]["AuthorizerType"].as_str(), Some("JWT"));
        assert_eq!(authorizer["Properties"]["JwtConfiguration"]["Issuer"]["Ref"].as_str(), Some("SsoIssuer"));
    }
}

#[test]
fn without_an_issuer_the_stack_has_no_sso_resource() {
    let doc = template();
    let all = doc["Resources"].as_hash().unwrap();
    let sso: Vec<_> = all.iter().filter(|(n, _)| n.as_str().unwrap().starts_with("Sso")).collect();
    assert!(sso.len() > 5, "the endpoint, stage, authorizer, integrations and routes");
    for (name, resource) in sso {
        assert_eq!(resource["Condition"].as_str(), Some("HasSso"), "{name:?}");
    }
    let condition = &doc["Conditions"]["HasSso"]["Fn::Not"][0]["Fn::Equals"];
    assert_eq!(condition[0]["Ref"].as_str(), Some("SsoIssuer"));
    assert_eq!(condition[1].as_str(), Some(""));
}

#[test]
fn every_checkov_suppression_says_why() {
    let doc = template();
    let mut suppressions = 0;
    for (name, resource) in doc["Resources"].as_hash().unwrap() {
        for skip in resource["Metadata"]["checkov"]["skip"].as_vec().into_iter().flatten() {
            let id = skip["id"].as_str().unwrap_or_default();
            let reason = skip["comment"].as_str().unwrap_or_default();
            assert!(id.starts_with("CKV_"), "{name:?}: {skip:?}");
            assert!(reason.split_whitespace().count() >= 12, "{name:?} skips {id} without a reason that holds");
            suppressions += 1;
        }
    }
    assert!(suppressions > 0, "the walk saw the suppressions");
}

#[test]
fn every_function_logs_to_its_own_group_kept_for_a_limited_time() {
    let doc = template();
    for (name, function) in resources(&doc, "AWS::Serverless::Function") {
        let group = referenced(&doc, &function["Properties"]["LoggingConfig"]["LogGroup"]);
        assert_eq!(group["Type"].as_str(), Some("AWS::Logs::LogGroup"), "{name}");
        assert!(group["Properties"]["RetentionInDays"].as_i64().is_some(), "{name}");
        assert!(!group["Properties"]["KmsKeyId"].is_badvalue(), "{name}");
    }
}

#[test]
fn the_readmes_stack_diagram_names_every_function_and_queue_of_the_template() {
    let doc = template();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README.md");
    let diagram = readme.split("```mermaid").nth(1).and_then(|rest| rest.split("```").next()).expect("a mermaid block");
    for (name, function) in resources(&doc, "AWS::Serverless::Function") {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().expect("a binary");
        assert!(diagram.contains(binary), "the diagram lacks {name} ({binary})");
    }
    for (queue, _) in resources(&doc, "AWS::SQS::Queue") {
        assert!(diagram.contains(queue), "the diagram lacks {queue}");
    }
}
