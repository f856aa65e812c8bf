//! The member-form example (seed 001: ALB → ECS → Aurora PostgreSQL,
//! CloudWatch) run as shipped against moto (common/moto.rs), once on an
//! account in good health and once on one in trouble. moto holds what the
//! runbooks name — the ECS cluster and service, the Aurora cluster with its
//! writer and reader, the ALB's target group with its targets, CloudWatch
//! datapoints for every metric the aws_* checks read — under the example's
//! default names; only the region is a `--var` (moto's test region), and
//! the endpoint is the SDK's own `AWS_ENDPOINT_URL`, as the example's
//! README says to point it elsewhere.
//!
//! Only the aws_* checks run (`--only`): the others need the seed's hosts,
//! its database, or the AWS CLI for CloudWatch Logs, AWS Backup and the
//! cluster's restorable time, which the test machine does not have (and
//! which must not reach the real AWS). Nothing here touches the real AWS:
//! fake keys, no profile files, no instance metadata, and every request
//! goes to the test's endpoint (each check's detail names it).

use serde_json::Value;

use crate::common::moto::{self, Moto};
use crate::common::{Env, Run, check, code, detail, msg, status};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/member-form");

/// daily.yaml's aws_* checks but `response-p95` (moto has no percentiles:
/// run on its own below).
const DAILY: &str = "ecs-service,alb-targets,aurora-writer,aurora-reader,aurora-connections,\
                     error-rate,ecs-cpu,requests,inventory-api-time";
const MONTHLY: &str = "ecs-cpu-30d,rds-free-storage,s3-storage";
const P1: &str = "ecs-service,alb-targets,ecs-cpu";
const P2: &str = "response-30m";

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The example's resources in moto, under the runbooks' default names.
/// `healthy` false: the service was created at 2 desired and none runs,
/// one of the two targets' instances is stopped, the reader is stopped
/// (moto lets an Aurora instance stop where AWS would not: it stands for a
/// replica that is not available), the error rate, CPU and response time
/// are over the seed's limits, and DatabaseConnections has no datapoint.
fn seed(m: &Moto, healthy: bool) {
    let flag = if healthy { "True" } else { "False" };
    m.seed(&format!(
        r#"
HEALTHY = {flag}
CLUSTER, SERVICE = "normal-form-app-cluster", "normal-form-app-service"
ecs = client("ecs")
ecs.create_cluster(clusterName=CLUSTER)
ecs.register_task_definition(family="normal-form-app",
    containerDefinitions=[{{"name": "app", "image": "normal-form-app:1", "memory": 512}}])
# moto runs no task for a service created with a desired count, and "runs"
# them when the count is updated (tests/it/aws.rs).
ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition="normal-form-app",
    desiredCount=0 if HEALTHY else 2)
if HEALTHY:
    ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=2)

rds = client("rds")
rds.create_db_cluster(DBClusterIdentifier="normal-form-app-aurora-cluster", Engine="aurora-postgresql",
    MasterUsername="postgres", MasterUserPassword="not-a-real-password-1")
for name in ["normal-form-app-aurora-instance-1", "normal-form-app-aurora-instance-2"]:
    rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql", DBClusterIdentifier="normal-form-app-aurora-cluster")
if not HEALTHY:
    rds.stop_db_instance(DBInstanceIdentifier="normal-form-app-aurora-instance-2")

# Fargate's targets are IPs, which moto always calls healthy; instances
# can be stopped, and moto then reports them `unused`.
ec2 = client("ec2")
elb = client("elbv2")
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
ids = [i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2)["Instances"]]
tg = elb.create_target_group(Name="normal-form-app-tg", Protocol="HTTP", Port=8080, VpcId=vpc,
    TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
elb.register_targets(TargetGroupArn=tg, Targets=[{{"Id": i, "Port": 8080}} for i in ids])
if not HEALTHY:
    ec2.stop_instances(InstanceIds=ids[1:])

cw = client("cloudwatch")
def put(namespace, metric, dims, unit, points):
    for minutes, value in points:
        cw.put_metric_data(Namespace=namespace, MetricData=[{{"MetricName": metric,
            "Dimensions": [{{"Name": k, "Value": v}} for k, v in dims.items()],
            "Timestamp": ago(minutes), "Value": value, "Unit": unit}}])
ALB = {{"LoadBalancer": "app/normal-form-app-alb/0123456789abcdef"}}
ECS = {{"ClusterName": CLUSTER, "ServiceName": SERVICE}}
AURORA = {{"DBClusterIdentifier": "normal-form-app-aurora-cluster"}}
put("AWS/ApplicationELB", "TargetResponseTime", ALB, "Seconds",
    [(20, 0.4), (5, 0.6)] if HEALTHY else [(20, 2.5), (5, 3.5)])
put("AWS/ApplicationELB", "RequestCount", ALB, "Count", [(300, 1200), (30, 800)])
put("Normal-Form-App/Application", "ErrorRate", {{}}, "Percent",
    [(40, 0.2), (10, 0.4)] if HEALTHY else [(40, 5.5), (10, 6.5)])
put("AWS/ECS", "CPUUtilization", ECS, "Percent",
    [(50, 30), (25, 40), (3, 50)] if HEALTHY else [(50, 75), (25, 85), (3, 95)])
if HEALTHY:
    put("AWS/RDS", "DatabaseConnections", AURORA, "Count", [(30, 12), (2, 18)])
put("Normal-Form-App/External-API", "ResponseTime", {{"APIName": "InventoryAPI"}}, "Milliseconds",
    [(45, 230), (15, 270)])
put("AWS/RDS", "FreeStorageSpace", AURORA, "Bytes", [(3 * 1440, 60 * 1024**3), (1440, 55 * 1024**3)])
put("AWS/S3", "BucketSizeBytes", {{"BucketName": "normal-form-app-assets", "StorageType": "StandardStorage"}},
    "Bytes", [(36 * 60, 1.0e9), (12 * 60, 1.2e9)])
"#
    ));
}

/// `opsrun ARGS -C examples/member-form --var region=… -f json` with the
/// test's keys and `AWS_ENDPOINT_URL` at moto.
fn opsrun(env: &Env, m: &Moto, args: &[&str]) -> (Value, Run) {
    let mut c = env.cmd();
    moto::aws_env(&mut c, env.path(), true);
    c.env("AWS_ENDPOINT_URL", m.endpoint());
    let region = format!("region={}", moto::REGION);
    let started = std::time::Instant::now();
    let out = c
        .args(args)
        .args(["-C", EXAMPLE, "--var", &region, "-f", "json"])
        .output()
        .expect("run opsrun");
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    };
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}):\n{}\n{}\n{}",
            r.stdout,
            r.stderr,
            m.log()
        )
    });
    (doc, r)
}

/// The check's headline number (`metric` of it).
fn number(c: &Value, metric: &str) -> f64 {
    c["metrics"][metric]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no metric {metric}: {c:#}"))
}

/// Exactly `ids` ran (the rest are skipped), each against the test's endpoint.
fn ran_all(doc: &Value, ids: &str, m: &Moto) {
    let got: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "skip")
        .filter_map(|c| c["id"].as_str())
        .collect();
    let want: Vec<&str> = ids.split(',').collect();
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for id in want {
        let c = check(doc, id);
        assert!(
            detail(c).contains(&format!("in {} via {}", moto::REGION, m.endpoint())),
            "{id} did not ask the test's endpoint: {c:#}"
        );
    }
}

#[test]
fn member_form_on_a_healthy_account() {
    let m = Moto::start();
    seed(&m, true);
    let env = Env::new();

    let (doc, r) = opsrun(&env, &m, &["daily", "--only", DAILY]);
    ran_all(&doc, DAILY, &m);
    let ecs = check(&doc, "ecs-service");
    assert_eq!(status(ecs), "pass", "{ecs:#}\n{}", r.stderr);
    assert_eq!(ecs["value"], "2/2 running", "{ecs:#}");
    assert_eq!(number(ecs, "running"), 2.0);
    let targets = check(&doc, "alb-targets");
    assert_eq!(status(targets), "pass", "{targets:#}");
    assert_eq!(targets["value"], "2 of 2 healthy", "{targets:#}");
    for id in ["aurora-writer", "aurora-reader"] {
        let db = check(&doc, id);
        assert_eq!(status(db), "pass", "{db:#}");
        assert_eq!(db["value"], "available", "{db:#}");
        assert!(detail(db).contains("aurora-postgresql"), "{db:#}");
    }
    // The latest 5-minute average of the hour: the newest datapoint alone.
    let conns = check(&doc, "aurora-connections");
    assert_eq!(status(conns), "pass", "{conns:#}");
    assert_eq!(number(conns, "value"), 18.0, "{conns:#}");
    assert_eq!(conns["metrics"]["value"]["unit"], "count", "{conns:#}");
    // One hour in one period: the hour's average.
    let errors = check(&doc, "error-rate");
    assert_eq!(status(errors), "pass", "{errors:#}");
    assert!((number(errors, "value") - 0.3).abs() < 1e-9, "{errors:#}");
    assert_eq!(errors["metrics"]["value"]["unit"], "%", "{errors:#}");
    let cpu = check(&doc, "ecs-cpu");
    assert_eq!(status(cpu), "pass", "{cpu:#}");
    assert_eq!(number(cpu, "value"), 40.0, "{cpu:#}");
    assert_eq!(cpu["value"], "40 Percent (Average)", "{cpu:#}");
    let requests = check(&doc, "requests");
    assert_eq!(status(requests), "pass", "{requests:#}");
    assert_eq!(number(requests, "value"), 2000.0, "{requests:#}");
    let inventory = check(&doc, "inventory-api-time");
    assert_eq!(status(inventory), "pass", "{inventory:#}");
    assert_eq!(number(inventory, "value"), 250.0, "{inventory:#}");
    assert_eq!(inventory["metrics"]["value"]["unit"], "ms", "{inventory:#}");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // moto 5.2.5 computes no percentile (extended statistics): its
    // datapoint for `response-p95` carries no p95, so the check is
    // `unknown`, no datapoints — never a pass. CloudWatch answers the p95.
    let (doc, r) = opsrun(&env, &m, &["daily", "--only", "response-p95"]);
    let p95 = check(&doc, "response-p95");
    assert_eq!(status(p95), "unknown", "{p95:#}\n{}", r.stderr);
    assert_eq!(code(p95), "aws_cloudwatch.no_datapoints", "{p95:#}");
    assert!(
        msg(p95).contains("AWS/ApplicationELB TargetResponseTime"),
        "{p95:#}"
    );
    assert_eq!(r.code, 3, "{}", r.stdout);

    // The weekly report reads the daily runs' history: CloudWatch's units
    // (Count, Percent, Milliseconds) come through as opsrun's.
    let weekly = env.run(&["report", "weekly", "-C", EXAMPLE]);
    for line in [
        "- 週間リクエスト数: 2,000件",
        "- エラー率: 0.3%",
        "- 平均CPU使用率: 40%",
        "- 在庫API応答時間: 250ms",
    ] {
        assert!(
            weekly.stdout.contains(line),
            "{line}:\n{}{}",
            weekly.stdout,
            weekly.stderr
        );
    }

    let (doc, r) = opsrun(&env, &m, &["monthly", "--only", MONTHLY]);
    ran_all(&doc, MONTHLY, &m);
    let cpu = check(&doc, "ecs-cpu-30d");
    assert_eq!(status(cpu), "pass", "{cpu:#}\n{}", r.stderr);
    assert_eq!(number(cpu, "value"), 40.0, "{cpu:#}");
    // The lowest free space of the 30 days, in bytes.
    let free = check(&doc, "rds-free-storage");
    assert_eq!(status(free), "pass", "{free:#}");
    assert_eq!(number(free, "value"), 55.0 * GIB, "{free:#}");
    assert_eq!(free["metrics"]["value"]["unit"], "B", "{free:#}");
    // The latest daily datapoint of the two days.
    let s3 = check(&doc, "s3-storage");
    assert_eq!(status(s3), "pass", "{s3:#}");
    assert_eq!(number(s3, "value"), 1.2e9, "{s3:#}");
    assert_eq!(r.code, 0, "{}", r.stdout);

    // Incidents in diagnose mode (no --execute: the redeploy and scale-out
    // actions are the AWS CLI's and do not run).
    let (doc, r) = opsrun(&env, &m, &["incident", "p1", "--only", P1]);
    ran_all(&doc, P1, &m);
    assert_eq!(status(check(&doc, "ecs-service")), "pass", "{doc:#}");
    assert_eq!(status(check(&doc, "alb-targets")), "pass", "{doc:#}");
    let cpu = check(&doc, "ecs-cpu");
    assert_eq!(status(cpu), "pass", "{cpu:#}");
    assert_eq!(number(cpu, "value"), 50.0, "{cpu:#}");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (doc, r) = opsrun(&env, &m, &["incident", "p2", "--only", P2]);
    ran_all(&doc, P2, &m);
    let response = check(&doc, "response-30m");
    assert_eq!(status(response), "pass", "{response:#}");
    assert!(
        (number(response, "value") - 0.5).abs() < 1e-9,
        "{response:#}"
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn member_form_on_a_degraded_account() {
    let m = Moto::start();
    seed(&m, false);
    let env = Env::new();

    let (doc, r) = opsrun(&env, &m, &["daily", "--only", DAILY]);
    ran_all(&doc, DAILY, &m);
    let ecs = check(&doc, "ecs-service");
    assert_eq!(status(ecs), "fail", "{ecs:#}\n{}", r.stderr);
    assert_eq!(code(ecs), "aws_ecs.below_desired", "{ecs:#}");
    assert!(msg(ecs).contains("0 of 2 tasks running"), "{ecs:#}");
    let targets = check(&doc, "alb-targets");
    assert_eq!(status(targets), "warn", "{targets:#}");
    assert_eq!(targets["value"], "1 of 2 healthy", "{targets:#}");
    assert_eq!(code(targets), "aws_alb.unhealthy", "{targets:#}");
    assert!(
        msg(targets).contains("unused (Target.InvalidState)"),
        "{targets:#}"
    );
    assert_eq!(status(check(&doc, "aurora-writer")), "pass", "{doc:#}");
    let reader = check(&doc, "aurora-reader");
    assert_eq!(status(reader), "fail", "{reader:#}");
    assert_eq!(code(reader), "aws_rds.status", "{reader:#}");
    assert!(
        msg(reader).contains("normal-form-app-aurora-instance-2 is stopped"),
        "{reader:#}"
    );
    // No datapoint is not a pass.
    let conns = check(&doc, "aurora-connections");
    assert_eq!(status(conns), "unknown", "{conns:#}");
    assert_eq!(code(conns), "aws_cloudwatch.no_datapoints", "{conns:#}");
    assert!(
        msg(conns).contains("DBClusterIdentifier=normal-form-app-aurora-cluster"),
        "{conns:#}"
    );
    // The seed's limits: エラー率 5%以上で重要, CPU 80%以上で警告.
    let errors = check(&doc, "error-rate");
    assert_eq!(status(errors), "fail", "{errors:#}");
    assert_eq!(number(errors, "value"), 6.0, "{errors:#}");
    let cpu = check(&doc, "ecs-cpu");
    assert_eq!(status(cpu), "warn", "{cpu:#}");
    assert_eq!(number(cpu, "value"), 85.0, "{cpu:#}");
    assert_eq!(status(check(&doc, "requests")), "pass", "{doc:#}");
    assert_eq!(status(check(&doc, "inventory-api-time")), "pass", "{doc:#}");
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert_eq!(doc["summary"]["fail"], 3, "{:#}", doc["summary"]);
    assert_eq!(doc["summary"]["warn"], 2, "{:#}", doc["summary"]);
    assert_eq!(doc["summary"]["unknown"], 1, "{:#}", doc["summary"]);

    let (doc, r) = opsrun(&env, &m, &["incident", "p1", "--only", P1]);
    ran_all(&doc, P1, &m);
    assert_eq!(
        code(check(&doc, "ecs-service")),
        "aws_ecs.below_desired",
        "{doc:#}"
    );
    assert_eq!(status(check(&doc, "alb-targets")), "warn", "{doc:#}");
    // The latest 5-minute period: 95% (over the seed's 80%).
    let cpu = check(&doc, "ecs-cpu");
    assert_eq!(status(cpu), "warn", "{cpu:#}");
    assert_eq!(number(cpu, "value"), 95.0, "{cpu:#}");
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let (doc, r) = opsrun(&env, &m, &["incident", "p2", "--only", P2]);
    let response = check(&doc, "response-30m");
    assert_eq!(status(response), "warn", "{response:#}");
    assert_eq!(number(response, "value"), 3.0, "{response:#}");
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
}
