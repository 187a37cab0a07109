//! Two stacks in one account and region (paper and live): each function publishes its metrics into its stack's own
//! namespace, and every alarm and dashboard widget of the template reads that namespace — so one stack's violation
//! never pages the other, and one stack's sweeper never keeps the other's "missing data" alarms green.

use crate::support;

use chrono::{Duration, Utc};
use shared::adapters::sqs::SqsQueue;
use shared::fakes::{ManualClock, MemoryNotifier};
use shared::ids::Side;
use shared::ports::SignalStore;
use tests::TestEnv;

const STACK_NAMESPACE: &str = r#"!Sub "SignalOrchestrator/${AWS::StackName}""#;

#[test]
fn every_metric_alarm_and_widget_of_the_template_is_in_the_stacks_own_namespace() {
    let template = include_str!("../../../template.yaml");
    assert!(
        template.contains(&format!("METRICS_NAMESPACE: {STACK_NAMESPACE}")),
        "the functions publish into the stack's namespace"
    );
    let namespaces: Vec<&str> = template
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("Namespace:"))
        .map(str::trim)
        .collect();
    assert!(namespaces.len() >= 10, "{namespaces:?}");
    for ns in &namespaces {
        assert!(
            ns.starts_with("AWS/") || *ns == STACK_NAMESPACE,
            "an alarm outside the stack's namespace: {ns}"
        );
    }
    assert!(
        !template.contains(r#"["SignalOrchestrator", "#),
        "a dashboard widget reads the shared namespace"
    );
    assert!(template.contains(r#"[["SignalOrchestrator/${AWS::StackName}", "MissingIntent"]"#));
}

#[tokio::test]
async fn a_violation_in_the_paper_stack_shows_only_in_the_paper_stacks_metrics() {
    let now = Utc::now();
    let (paper, live) = (TestEnv::new("stack-paper").await, TestEnv::new("stack-live").await);
    // A sent signal with no intent, ten minutes old: MISSING_INTENT, in the paper stack only.
    let lost = support::signal("ETH_BTC", Side::Buy, 1, now - Duration::minutes(10));
    paper.store().put_new(&lost).await.unwrap();
    let clock = ManualClock::new(now, 0);
    let notifier = MemoryNotifier::default();
    let mut published = Vec::new();
    for (env, namespace) in [(&paper, "SignalOrchestrator/paper"), (&live, "SignalOrchestrator/live")] {
        let store = env.store();
        let queue = SqsQueue::new(env.sqs(), env.p.queue_url.clone());
        let sweeper = sweeper::handler::Sweeper {
            namespace,
            ..support::sweeper(&store, &queue, &notifier, &clock)
        };
        let (emf, _) = sweeper.run().await.unwrap();
        published.push((
            emf["_aws"]["CloudWatchMetrics"][0]["Namespace"].clone(),
            emf["MissingIntent"].clone(),
        ));
    }
    assert_eq!(
        published,
        [
            (serde_json::json!("SignalOrchestrator/paper"), serde_json::json!(1)),
            (serde_json::json!("SignalOrchestrator/live"), serde_json::json!(0)),
        ]
    );
}

/// The runbook (docs/OPERATIONS.md) says what every alarm of the template means and what to do about it.
#[test]
fn every_alarm_of_the_template_is_in_the_runbook() {
    let template = include_str!("../../../template.yaml");
    let runbook = include_str!("../../../docs/OPERATIONS.md");
    let alarms: Vec<&str> = template
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix("Alarm:"))
        .filter(|name| !name.starts_with(' '))
        .collect();
    assert!(alarms.len() >= 19, "{alarms:?}");
    for alarm in alarms {
        let name = alarm.strip_suffix("Errors").unwrap_or(alarm);
        assert!(
            runbook.contains(name),
            "docs/OPERATIONS.md says nothing of {alarm}Alarm"
        );
    }
}
