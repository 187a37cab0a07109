//! The local stack's one source of truth: template.yaml itself. What provisioning creates in the emulator — each
//! table's key, attributes, indexes (with their projection) and TTL attribute, the signal queue's visibility timeout,
//! retention and redrive policy with its dead-letter queue, each secret's name and JSON keys — is read here from the
//! template's own resources, so the demo and the tests run against what a deploy creates, and a change to the
//! template changes the local stack (tested in tests/tests/integration/storage.rs).
//!
//! Which table is which comes from the template too: the functions' `Globals` environment (`SIGNALS_TABLE: !Ref
//! SignalsTable`, …). What the emulator does not model (alarms, dashboards, functions, the API) is not created.

use serde_yaml::Value;

/// template.yaml as built into the harness (a change to it rebuilds the harness).
pub const TEMPLATE: &str = include_str!("../../template.yaml");

/// The stack name the local secrets are named under (`${AWS::StackName}/exchange` → `signal-orchestrator/exchange`):
/// the functions' default secret ids.
pub const LOCAL_STACK_NAME: &str = "signal-orchestrator";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The variable the functions read its name from (`SIGNALS_TABLE`).
    pub variable: String,
    pub logical_id: String,
    /// (attribute, HASH | RANGE)
    pub key: Vec<(String, String)>,
    /// (attribute, S | N | B)
    pub attributes: Vec<(String, String)>,
    pub indexes: Vec<Index>,
    pub ttl_attribute: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub name: String,
    pub key: Vec<(String, String)>,
    /// ALL | KEYS_ONLY | INCLUDE
    pub projection: String,
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub visibility_timeout_s: u32,
    pub retention_s: Option<u32>,
    pub max_receive_count: u32,
    pub dlq_retention_s: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// The name with the local stack name: `signal-orchestrator/exchange`.
    pub name: String,
    /// The JSON keys the template gives it (its template's keys and the generated one).
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub tables: Vec<Table>,
    pub queue: Queue,
    pub secrets: Vec<Secret>,
}

impl Stack {
    /// The stack of the project's template.yaml.
    pub fn shipped() -> Result<Stack, String> {
        Stack::parse(TEMPLATE)
    }

    /// The stack a template describes; an error names what it lacks.
    pub fn parse(yaml: &str) -> Result<Stack, String> {
        let doc: Value = serde_yaml::from_str(yaml).map_err(|e| format!("template: {e}"))?;
        let resources = &doc["Resources"];
        let variables = doc["Globals"]["Function"]["Environment"]["Variables"]
            .as_mapping()
            .ok_or("template: no Globals.Function.Environment.Variables")?;
        let mut tables = Vec::new();
        for (variable, value) in variables {
            let Some(logical_id) = reference(value) else { continue };
            let resource = &resources[logical_id.as_str()];
            if resource["Type"].as_str() == Some("AWS::DynamoDB::Table") {
                let variable = variable.as_str().unwrap_or_default().to_string();
                tables.push(table(variable, logical_id, &resource["Properties"])?);
            }
        }
        Ok(Stack {
            tables,
            queue: queue(resources)?,
            secrets: secrets(resources)?,
        })
    }

    /// The table whose name the functions read from `variable`.
    pub fn table(&self, variable: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.variable == variable)
    }
}

/// `!Ref X` → X.
fn reference(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(t) if t.tag == "!Ref" => t.value.as_str().map(str::to_string),
        _ => None,
    }
}

fn text(v: &Value, field: &str, what: &str) -> Result<String, String> {
    v[field]
        .as_str()
        .map(str::to_string)
        .ok_or(format!("template: {what} has no {field}"))
}

fn pairs(list: &Value, a: &str, b: &str, what: &str) -> Result<Vec<(String, String)>, String> {
    let items = list.as_sequence().ok_or(format!("template: {what} is not a list"))?;
    items
        .iter()
        .map(|i| Ok((text(i, a, what)?, text(i, b, what)?)))
        .collect()
}

fn table(variable: String, logical_id: String, p: &Value) -> Result<Table, String> {
    let what = |part: &str| format!("{logical_id}.{part}");
    let mut indexes = Vec::new();
    for i in p["GlobalSecondaryIndexes"].as_sequence().into_iter().flatten() {
        let name = text(i, "IndexName", &what("GlobalSecondaryIndexes"))?;
        indexes.push(Index {
            key: pairs(&i["KeySchema"], "AttributeName", "KeyType", &what(&name))?,
            projection: text(&i["Projection"], "ProjectionType", &what(&name))?,
            non_key_attributes: i["Projection"]["NonKeyAttributes"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            name,
        });
    }
    let ttl = &p["TimeToLiveSpecification"];
    Ok(Table {
        key: pairs(&p["KeySchema"], "AttributeName", "KeyType", &what("KeySchema"))?,
        attributes: pairs(
            &p["AttributeDefinitions"],
            "AttributeName",
            "AttributeType",
            &what("AttributeDefinitions"),
        )?,
        indexes,
        ttl_attribute: (ttl["Enabled"].as_bool() == Some(true))
            .then(|| ttl["AttributeName"].as_str().map(str::to_string))
            .flatten(),
        variable,
        logical_id,
    })
}

fn number(v: &Value, what: &str) -> Result<Option<u32>, String> {
    match v {
        Value::Null => Ok(None),
        v => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or(format!("template: {what} is not a number")),
    }
}

/// The signal queue (`SignalsQueue`) and the dead-letter queue its redrive policy names.
fn queue(resources: &Value) -> Result<Queue, String> {
    let p = &resources["SignalsQueue"]["Properties"];
    let redrive = &p["RedrivePolicy"];
    let dlq = match &redrive["deadLetterTargetArn"] {
        Value::Tagged(t) if t.tag == "!GetAtt" => t.value.as_str().and_then(|s| s.strip_suffix(".Arn")),
        _ => None,
    }
    .ok_or("template: SignalsQueue has no RedrivePolicy.deadLetterTargetArn: !GetAtt <queue>.Arn")?;
    Ok(Queue {
        visibility_timeout_s: number(&p["VisibilityTimeout"], "SignalsQueue.VisibilityTimeout")?
            .ok_or("template: SignalsQueue has no VisibilityTimeout")?,
        retention_s: number(&p["MessageRetentionPeriod"], "SignalsQueue.MessageRetentionPeriod")?,
        max_receive_count: number(
            &redrive["maxReceiveCount"],
            "SignalsQueue.RedrivePolicy.maxReceiveCount",
        )?
        .ok_or("template: SignalsQueue's RedrivePolicy has no maxReceiveCount")?,
        dlq_retention_s: number(&resources[dlq]["Properties"]["MessageRetentionPeriod"], dlq)?,
    })
}

/// Every Secrets Manager secret: `${AWS::StackName}/x` named under [`LOCAL_STACK_NAME`], with the JSON keys of its
/// `SecretStringTemplate` and its `GenerateStringKey`.
fn secrets(resources: &Value) -> Result<Vec<Secret>, String> {
    let mut out = Vec::new();
    for (id, r) in resources.as_mapping().into_iter().flatten() {
        if r["Type"].as_str() != Some("AWS::SecretsManager::Secret") {
            continue;
        }
        let id = id.as_str().unwrap_or_default();
        let p = &r["Properties"];
        let name = match &p["Name"] {
            Value::Tagged(t) if t.tag == "!Sub" => t
                .value
                .as_str()
                .map(|s| s.replace("${AWS::StackName}", LOCAL_STACK_NAME)),
            other => other.as_str().map(str::to_string),
        }
        .ok_or(format!("template: secret {id} has no Name"))?;
        let generate = &p["GenerateSecretString"];
        let template: serde_json::Value =
            serde_json::from_str(generate["SecretStringTemplate"].as_str().unwrap_or("{}"))
                .map_err(|e| format!("template: secret {id}'s SecretStringTemplate: {e}"))?;
        let mut keys: Vec<String> = template
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect();
        keys.extend(generate["GenerateStringKey"].as_str().map(str::to_string));
        out.push(Secret { name, keys });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_template_describes_every_table_the_functions_read_the_queue_and_the_secrets() {
        let stack = Stack::shipped().unwrap();
        let variables: Vec<&str> = stack.tables.iter().map(|t| t.variable.as_str()).collect();
        assert_eq!(
            variables,
            [
                "SIGNALS_TABLE",
                "ORDER_INTENTS_TABLE",
                "ALERTS_TABLE",
                "WATCHLIST_TABLE",
                "RISK_TABLE"
            ]
        );
        let intents = stack.table("ORDER_INTENTS_TABLE").unwrap();
        assert_eq!(intents.key, [("idempotency_key".to_string(), "HASH".to_string())]);
        let names: Vec<&str> = intents.indexes.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["by_day", shared::adapters::dynamodb::OPEN_FILLS_INDEX]);
        assert_eq!(intents.ttl_attribute.as_deref(), Some("expires_at"));
        assert_eq!(
            stack.table("WATCHLIST_TABLE").unwrap().indexes[0].projection,
            "KEYS_ONLY"
        );
        assert_eq!(stack.table("WATCHLIST_TABLE").unwrap().ttl_attribute, None);
        assert_eq!(
            (stack.queue.visibility_timeout_s, stack.queue.max_receive_count),
            (180, 5)
        );
        let secrets: Vec<(&str, Vec<&str>)> = stack
            .secrets
            .iter()
            .map(|s| (s.name.as_str(), s.keys.iter().map(String::as_str).collect()))
            .collect();
        assert!(
            secrets.contains(&("signal-orchestrator/exchange", vec!["api_key", "api_secret"])),
            "{secrets:?}"
        );
        assert!(
            secrets.contains(&("signal-orchestrator/diagnostics", vec!["api_key"])),
            "{secrets:?}"
        );
    }

    /// Every kind of violation (`ViolationType::ALL`, the one table) has its alarm and its dashboard widget in the
    /// template, its value in the OpenAPI document (and on a signal's list when it belongs to a signal), and its row
    /// in the runbook: a kind added to the table without them fails here, naming what is missing.
    #[test]
    fn every_kind_of_violation_has_its_alarm_widget_openapi_value_and_runbook_row() {
        use shared::report::invariants::ViolationType;
        let doc: Value = serde_yaml::from_str(TEMPLATE).unwrap();
        let resources = doc["Resources"].as_mapping().unwrap();
        let of_type = |t: &'static str| resources.values().filter(move |r| r["Type"].as_str() == Some(t));
        let alarmed: Vec<&str> = of_type("AWS::CloudWatch::Alarm")
            .filter_map(|a| a["Properties"]["MetricName"].as_str())
            .collect();
        let dashboard = of_type("AWS::CloudWatch::Dashboard")
            .map(|d| match &d["Properties"]["DashboardBody"] {
                Value::Tagged(t) => t.value.as_str().unwrap_or_default().to_string(),
                other => other.as_str().unwrap_or_default().to_string(),
            })
            .collect::<String>();
        let openapi: serde_json::Value =
            serde_json::from_str(include_str!("../../functions/diagnostics/openapi.json")).unwrap();
        let schemas = &openapi["components"]["schemas"];
        let listed = |enum_: &serde_json::Value, wire: &str| enum_.as_array().unwrap().iter().any(|v| v == wire);
        let runbook = include_str!("../../docs/OPERATIONS.md");
        for kind in ViolationType::ALL {
            let (metric, wire) = (kind.metric(), kind.as_str());
            assert!(alarmed.contains(&metric), "template.yaml: no alarm on {metric}");
            assert!(
                dashboard.contains(&format!("\"{metric}\"")),
                "template.yaml: no dashboard widget for {metric}"
            );
            assert!(
                listed(&schemas["Violation"]["properties"]["violation"]["enum"], &wire),
                "openapi.json: Violation lacks {wire}"
            );
            let on_signal = listed(&schemas["Signal"]["properties"]["violations"]["items"]["enum"], &wire);
            assert_eq!(
                on_signal,
                kind.per_signal(),
                "openapi.json: Signal.violations and {wire}"
            );
            assert!(runbook.contains(metric), "docs/OPERATIONS.md: no row for {metric}");
        }
    }

    #[test]
    fn a_template_without_what_the_stack_needs_is_refused_with_what_is_missing() {
        let without_redrive = TEMPLATE.replace("maxReceiveCount: 5", "");
        assert!(Stack::parse(&without_redrive).unwrap_err().contains("maxReceiveCount"));
        let broken_key = TEMPLATE.replace("- { AttributeName: alert_id, KeyType: HASH }", "- { KeyType: HASH }");
        assert!(Stack::parse(&broken_key).unwrap_err().contains("AlertsTable.KeySchema"));
    }
}
