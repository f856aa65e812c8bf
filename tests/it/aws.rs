//! The AWS kinds (`aws_cloudwatch`, `aws_ecs`, `aws_rds`, `aws_alb`) against
//! a real implementation of the AWS APIs started by each test: moto's
//! server (common/moto.rs), seeded through its API with boto3. No test
//! touches the real AWS: every runbook names the test's `endpoint_url`, the
//! environment holds only the test's fake keys, and instance metadata is
//! switched off.
//!
//! Two narrow seams sit between opsrun and moto, in one small proxy
//! (common/aws_proxy.py):
//!
//! - CloudWatch. The current SDK (aws-sdk-cloudwatch 1.140) speaks Smithy
//!   RPC v2 CBOR to CloudWatch; moto 5.2.5's server routes only the JSON
//!   and query protocols. Pinning an SDK release from before the switch was
//!   the other way; it was not taken: opsrun would ship a year-old client
//!   (and pin its smithy runtime) for the sake of a test, and the protocol
//!   real CloudWatch gets from opsrun would not be the one tested either
//!   way. The proxy changes only the encoding (CBOR ⇄ JSON, same operation,
//!   same members); moto computes every answer.
//! - Throttling. moto cannot throttle on demand; the proxy answers the next
//!   N requests with a `Throttling` error in the request's protocol, as AWS
//!   does, and the SDK's retries (within the check's deadline) must carry
//!   the check through.

use std::time::Instant;

use serde_json::Value;

use crate::common::moto::{self, Moto};
use crate::common::{Env, Run, check, code, detail, msg, status};

/// Runs `checks` (each with `endpoint_url` and `region` added by the
/// caller) as JSON, with the test's keys unless `keys` is false; also as
/// a verbose table, which must not print the secret key.
fn run(env: &Env, checks: &str, keys: bool) -> (Value, Run) {
    env.runbook(
        "t.yaml",
        &format!("version: 1\ntitle: aws\nchecks:\n{checks}"),
    );
    let exec = |args: &[&str]| {
        let mut c = env.cmd();
        moto::aws_env(&mut c, env.path(), keys);
        let started = Instant::now();
        let out = c.args(args).output().expect("run opsrun");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    };
    let table = exec(&["run", "t", "-v"]);
    assert!(
        !table.stdout.contains(moto::SECRET) && !table.stderr.contains(moto::SECRET),
        "secret printed:\n{}{}",
        table.stdout,
        table.stderr
    );
    let r = exec(&["run", "t", "-f", "json"]);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}\ntable:\n{}",
            r.stdout, r.stderr, table.stdout
        )
    });
    (doc, r)
}

/// `region` and `endpoint_url` lines for a check (6-space indent).
fn at(m: &Moto) -> String {
    format!(
        "      region: {}\n      endpoint_url: {}\n",
        moto::REGION,
        m.endpoint()
    )
}

#[test]
fn cloudwatch_datapoints_above_below_and_none() {
    let m = Moto::start();
    m.seed(
        r#"
cw = client("cloudwatch")
for minutes, value in [(12, 30.0), (7, 40.0), (2, 95.5)]:
    cw.put_metric_data(Namespace="Test/App", MetricData=[{"MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "Service", "Value": "web"}], "Timestamp": ago(minutes),
        "Value": value, "Unit": "Percent"}])
cw.put_metric_data(Namespace="Test/App", MetricData=[{"MetricName": "CPUUtilization",
    "Dimensions": [{"Name": "Service", "Value": "batch"}], "Timestamp": ago(3), "Value": 12.0,
    "Unit": "Percent"}])
"#,
    );
    let env = Env::new();
    let a = at(&m);
    let (doc, r) = run(
        &env,
        &format!(
            "  - id: web-hot\n    aws_cloudwatch:\n      namespace: Test/App\n      metric: CPUUtilization\n      dimensions: {{Service: web}}\n      stat: Maximum\n      warn: 80\n      fail: 90\n{a}\
  \u{20}\u{20}- id: batch-cool\n    aws_cloudwatch:\n      namespace: Test/App\n      metric: CPUUtilization\n      dimensions: {{Service: batch}}\n      warn: 80\n      fail: 90\n{a}\
  \u{20}\u{20}- id: batch-low\n    aws_cloudwatch:\n      namespace: Test/App\n      metric: CPUUtilization\n      dimensions: {{Service: batch}}\n      stat: Minimum\n      fail: \"< 20\"\n{a}\
  \u{20}\u{20}- id: nothing\n    aws_cloudwatch:\n      namespace: Test/App\n      metric: CPUUtilization\n      dimensions: {{Service: gone}}\n{a}"
        ),
        true,
    );
    let hot = check(&doc, "web-hot");
    assert_eq!(status(hot), "fail", "{hot:#}\n{}", r.stderr);
    assert_eq!(hot["metrics"]["value"]["value"], 95.5, "{hot:#}");
    assert!(msg(hot).contains("95.5"), "{hot:#}");
    assert_eq!(hot["value"], "95.5 Percent (Maximum)", "{hot:#}");
    assert!(
        detail(hot).contains("CloudWatch in us-east-1 via http://127.0.0.1:"),
        "{hot:#}"
    );
    let cool = check(&doc, "batch-cool");
    assert_eq!(status(cool), "pass", "{cool:#}");
    assert_eq!(cool["metrics"]["value"]["value"], 12.0, "{cool:#}");
    // Lower is worse with an operator.
    let low = check(&doc, "batch-low");
    assert_eq!(status(low), "fail", "{low:#}");
    let none = check(&doc, "nothing");
    assert_eq!(status(none), "unknown", "{none:#}");
    assert_eq!(code(none), "aws_cloudwatch.no_datapoints", "{none:#}");
    assert!(msg(none).contains("Service=gone"), "{none:#}");
    assert_eq!(r.code, 2, "{}", r.stdout);
}

#[test]
fn ecs_at_desired_below_desired_and_mid_deployment() {
    let m = Moto::start();
    // moto starts a service with no task running (MOTO_ECS_SERVICE_RUNNING
    // unset) and a rollout IN_PROGRESS unless 0 are desired; an update of
    // the desired count "runs" them and leaves the rollout as it was.
    m.seed(
        r#"
ecs = client("ecs")
ecs.create_cluster(clusterName="prod")
ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}])
ecs.create_service(cluster="prod", serviceName="steady", taskDefinition="web", desiredCount=0)
ecs.update_service(cluster="prod", service="steady", desiredCount=2)
ecs.create_service(cluster="prod", serviceName="short", taskDefinition="web", desiredCount=3)
ecs.create_service(cluster="prod", serviceName="rolling", taskDefinition="web", desiredCount=2)
ecs.update_service(cluster="prod", service="rolling", desiredCount=2)
"#,
    );
    let env = Env::new();
    let a = at(&m);
    let svc = |id: &str, name: &str| {
        format!("  - id: {id}\n    aws_ecs:\n      cluster: prod\n      service: {name}\n{a}")
    };
    let (doc, r) = run(
        &env,
        &[
            svc("steady", "steady"),
            svc("short", "short"),
            svc("rolling", "rolling"),
            svc("missing", "nope"),
        ]
        .concat(),
        true,
    );
    let steady = check(&doc, "steady");
    assert_eq!(status(steady), "pass", "{steady:#}\n{}", r.stderr);
    assert_eq!(steady["value"], "2/2 running", "{steady:#}");
    assert_eq!(steady["metrics"]["running"]["value"], 2.0, "{steady:#}");
    let short = check(&doc, "short");
    assert_eq!(status(short), "fail", "{short:#}");
    assert_eq!(code(short), "aws_ecs.below_desired", "{short:#}");
    assert!(msg(short).contains("0 of 3 tasks running"), "{short:#}");
    let rolling = check(&doc, "rolling");
    assert_eq!(status(rolling), "warn", "{rolling:#}");
    assert_eq!(code(rolling), "aws_ecs.rollout", "{rolling:#}");
    assert!(
        detail(rolling).contains("rollout IN_PROGRESS"),
        "{rolling:#}"
    );
    let missing = check(&doc, "missing");
    assert_eq!(status(missing), "fail", "{missing:#}");
    assert_eq!(code(missing), "aws_ecs.not_found", "{missing:#}");
}

#[test]
fn rds_available_stopped_and_free_storage() {
    let m = Moto::start();
    m.seed(
        r#"
rds = client("rds")
for name in ["orders", "reports"]:
    rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="postgres",
        AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="secret-password-1")
rds.stop_db_instance(DBInstanceIdentifier="reports")
cw = client("cloudwatch")
cw.put_metric_data(Namespace="AWS/RDS", MetricData=[{"MetricName": "FreeStorageSpace",
    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "orders"}], "Timestamp": ago(4),
    "Value": 3 * 1024**3, "Unit": "Bytes"}])
"#,
    );
    let env = Env::new();
    let a = at(&m);
    let (doc, r) = run(
        &env,
        &format!(
            "  - id: orders\n    aws_rds:\n      instance: orders\n{a}\
  \u{20}\u{20}- id: orders-space\n    aws_rds:\n      instance: orders\n      free_storage: {{warn: 5GB, fail: 1GB}}\n{a}\
  \u{20}\u{20}- id: reports\n    aws_rds:\n      instance: reports\n      free_storage: {{fail: 1GB}}\n{a}\
  \u{20}\u{20}- id: missing\n    aws_rds:\n      instance: nope\n{a}"
        ),
        true,
    );
    let orders = check(&doc, "orders");
    assert_eq!(status(orders), "pass", "{orders:#}\n{}", r.stderr);
    assert_eq!(orders["value"], "available", "{orders:#}");
    assert!(
        detail(orders).contains("postgres db.t3.micro, 20 GiB allocated"),
        "{orders:#}"
    );
    let space = check(&doc, "orders-space");
    assert_eq!(status(space), "warn", "{space:#}");
    assert_eq!(
        space["metrics"]["free_storage"]["value"],
        3.0 * 1024.0 * 1024.0 * 1024.0,
        "{space:#}"
    );
    let reports = check(&doc, "reports");
    assert_eq!(status(reports), "fail", "{reports:#}");
    assert_eq!(code(reports), "aws_rds.status", "{reports:#}");
    assert!(msg(reports).contains("reports is stopped"), "{reports:#}");
    let missing = check(&doc, "missing");
    assert_eq!(status(missing), "fail", "{missing:#}");
    assert_eq!(code(missing), "aws_rds.not_found", "{missing:#}");
}

#[test]
fn alb_healthy_and_unhealthy_targets() {
    let m = Moto::start();
    // moto reports a registered instance target healthy while the instance
    // runs, and `unused` (Target.InvalidState) once it is stopped.
    let arn = m.seed(
        r#"
ec2 = client("ec2")
elb = client("elbv2")
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
ids = [i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=3, MaxCount=3)["Instances"]]
def group(name, members):
    arn = elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": i, "Port": 8080} for i in members])
    return arn
group("web", ids)
down = group("down", ids[2:])
ec2.stop_instances(InstanceIds=ids[2:])
print(down)
"#,
    );
    let env = Env::new();
    let a = at(&m);
    let (doc, r) = run(
        &env,
        &format!(
            "  - id: web\n    aws_alb:\n      target_group: web\n{a}\
  \u{20}\u{20}- id: web-two\n    aws_alb:\n      target_group: web\n      healthy: {{fail: \"< 3\"}}\n{a}\
  \u{20}\u{20}- id: down\n    aws_alb:\n      target_group: {arn}\n{a}\
  \u{20}\u{20}- id: missing\n    aws_alb:\n      target_group: nope\n{a}"
        ),
        true,
    );
    let web = check(&doc, "web");
    assert_eq!(status(web), "warn", "{web:#}\n{}", r.stderr);
    assert_eq!(web["value"], "2 of 3 healthy", "{web:#}");
    assert_eq!(code(web), "aws_alb.unhealthy", "{web:#}");
    assert!(
        msg(web).contains("1 of 3 targets not healthy: i-"),
        "{web:#}"
    );
    assert!(
        msg(web).contains(":8080 unused (Target.InvalidState)"),
        "{web:#}"
    );
    assert!(
        detail(web).contains("Target is in the stopped state"),
        "{web:#}"
    );
    let two = check(&doc, "web-two");
    assert_eq!(status(two), "fail", "{two:#}");
    let down = check(&doc, "down");
    assert_eq!(status(down), "fail", "{down:#}");
    assert_eq!(down["metrics"]["healthy"]["value"], 0.0, "{down:#}");
    let missing = check(&doc, "missing");
    assert_eq!(status(missing), "fail", "{missing:#}");
    assert_eq!(code(missing), "aws_alb.not_found", "{missing:#}");
}

#[test]
fn throttling_is_retried_within_the_deadline() {
    let m = Moto::start();
    m.seed(
        r#"
ecs = client("ecs")
ecs.create_cluster(clusterName="prod")
ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}])
ecs.create_service(cluster="prod", serviceName="api", taskDefinition="web", desiredCount=0)
"#,
    );
    let env = Env::new();
    let a = at(&m);
    let checks = format!(
        "  - id: api\n    timeout: 20s\n    aws_ecs:\n      cluster: prod\n      service: api\n{a}"
    );
    // Two throttled answers, then moto's: the SDK retries and the check passes.
    env.runbook(
        "t.yaml",
        &format!("version: 1\ntitle: aws\nchecks:\n{checks}"),
    );
    let mut c = env.cmd();
    moto::aws_env(&mut c, env.path(), true);
    let before = m.requests();
    m.throttle(2);
    let out = c.args(["run", "t", "-f", "json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let api = check(&doc, "api");
    assert_eq!(status(api), "pass", "{api:#}\n{}", m.log());
    assert_eq!(m.requests() - before, 3, "{}", m.log());
    // Throttled to the end: unknown, said as throttling, within the deadline.
    m.throttle(-1);
    let (doc, r) = run(&env, &checks.replace("20s", "30s"), true);
    let api = check(&doc, "api");
    assert_eq!(status(api), "unknown", "{api:#}");
    assert_eq!(code(api), "aws.throttled", "{api:#}");
    assert!(
        msg(api).contains("ECS throttled DescribeServices (ThrottlingException)"),
        "{api:#}"
    );
    assert_eq!(r.code, 3, "{}", r.stdout);
}

#[test]
fn credentials_and_endpoint_failures_are_unknown() {
    // moto with its credential checks on: keys it never issued are refused.
    let strict = Moto::start_with(&["INITIAL_NO_AUTH_ACTION_COUNT=0"]);
    let env = Env::new();
    let closed = crate::common::daemon::free_port();
    let ecs = |id: &str, extra: &str| {
        format!(
            "  - id: {id}\n    aws_ecs:\n      cluster: prod\n      service: api\n      region: us-east-1\n{extra}"
        )
    };
    let (doc, _) = run(
        &env,
        &[
            ecs(
                "refused",
                &format!("      endpoint_url: {}\n", strict.endpoint()),
            ),
            ecs(
                "unreachable",
                &format!("      endpoint_url: http://127.0.0.1:{closed}\n"),
            ),
        ]
        .concat(),
        true,
    );
    let refused = check(&doc, "refused");
    assert_eq!(status(refused), "unknown", "{refused:#}");
    assert_eq!(code(refused), "aws.auth", "{refused:#}");
    assert_eq!(refused["reason"]["params"]["status"], 403, "{refused:#}");
    let unreachable = check(&doc, "unreachable");
    assert_eq!(status(unreachable), "unknown", "{unreachable:#}");
    assert_eq!(code(unreachable), "aws.unreachable", "{unreachable:#}");

    // No credentials anywhere in the chain, and a profile that is not there.
    env.write(
        "aws-config",
        "[profile ops]\nregion = us-east-1\naws_access_key_id = AKIAPROFILEKEY000000\naws_secret_access_key = profile-secret\n",
    );
    let (doc, _) = run(
        &env,
        &[
            ecs("none", &format!("      endpoint_url: {}\n", strict.endpoint())),
            format!(
                "  - id: no-profile\n    aws_ecs:\n      cluster: prod\n      service: api\n      profile: nope\n      endpoint_url: {}\n",
                strict.endpoint()
            ),
            format!(
                "  - id: profile\n    aws_ecs:\n      cluster: prod\n      service: api\n      profile: ops\n      endpoint_url: {}\n",
                strict.endpoint()
            ),
        ]
        .concat(),
        false,
    );
    let none = check(&doc, "none");
    assert_eq!(status(none), "unknown", "{none:#}");
    assert_eq!(code(none), "aws.credentials", "{none:#}");
    let no_profile = check(&doc, "no-profile");
    assert_eq!(status(no_profile), "unknown", "{no_profile:#}");
    assert!(
        ["aws.credentials", "aws.no_region"].contains(&code(no_profile)),
        "{no_profile:#}"
    );
    // The profile's keys and region are used (moto refuses them: it never
    // issued them — the request was signed and sent, to the right region).
    let profile = check(&doc, "profile");
    assert_eq!(code(profile), "aws.auth", "{profile:#}");
    assert!(detail(profile).contains("ECS in us-east-1"), "{profile:#}");
}

#[test]
fn load_errors_name_the_field() {
    let env = Env::new();
    for (yaml, want) in [
        (
            "aws_cloudwatch: {namespace: N, metric: M, stat: Median}",
            "invalid stat `Median`",
        ),
        (
            "aws_cloudwatch: {namespace: N, metric: M, period: 10m, window: 5m}",
            "shorter than period",
        ),
        (
            "aws_ecs: {cluster: c, service: s, endpoint_url: 127.0.0.1:4566}",
            "invalid endpoint_url",
        ),
        ("aws_ecs: {cluster: c}", "missing field `service`"),
        (
            "aws_rds: {instance: db, password: x}",
            "unknown key `password`",
        ),
        ("aws_alb: {target_group: tg, healthy: 3}", "healthy"),
    ] {
        env.runbook(
            "t.yaml",
            &format!("version: 1\ntitle: aws\nchecks:\n  - id: x\n    {yaml}\n"),
        );
        let r = env.run(&["run", "t"]);
        assert_eq!(r.code, 3, "{yaml}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(want), "{yaml}: {}", r.stderr);
    }
}

#[test]
fn docs_example_validates() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/aws.md")).unwrap();
    let yaml = text
        .split("```yaml\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let env = Env::new();
    env.runbook("doc.yaml", &format!("version: 1\ntitle: doc\n{yaml}"));
    let r = env.run(&["validate", "runbooks/doc.yaml"]);
    assert_eq!(r.code, 0, "{yaml}\n{}", r.stderr);
}
