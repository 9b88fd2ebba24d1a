"""The default command's flags, as data: MetaHub's flags and metahub's own, in the groups that
``metahub --help`` shows. Each group is a :class:`~metahub.cli.parsing.Group`; a new flag is one
line in its group, and whatever reads it lives in the command that uses it."""

from __future__ import annotations

from pathlib import Path

from metahub.cli.parsing import (
    Group,
    OneWay,
    bounded,
    duration,
    flag,
    output_dir,
    output_label,
    part_name,
    shard,
    sts_parameter,
)
from metahub.enrich import CONTEXTS
from metahub.html_report import LARGEST_MB
from metahub.run import OUTPUT_MODES
from metahub.securityhub import EXPOSURE_FILTER

LIST_VIEWS = ("short", "full", "inventory", "statistics")
"""What ``--list-findings`` prints: the :class:`~metahub.run.Run` method of that name."""


INPUTS = Group(
    "Inputs",
    (
        flag(
            "--inputs",
            nargs="+",
            choices=["file-asff", "securityhub", "securityhub-v2"],
            help="where findings come from, any of them: files, Security Hub CSPM (ASFF, GetFindings), the new "
            "Security Hub (OCSF and exposure findings, GetFindingsV2) (default: file-asff with --input-asff or "
            "--demo, else securityhub, as in MetaHub)",
        ),
        flag(
            "--input-asff",
            nargs="+",
            metavar="FILE",
            default=[],
            help='ASFF or Prowler OCSF files: JSON array, {"Findings": [...]}, JSON lines, '
            "EventBridge events, optionally .gz; - reads stdin",
        ),
        flag(
            "--demo",
            action="store_true",
            help="use the bundled sample (Prowler output of the emulated lab account)",
        ),
        flag(
            "--mutelist",
            type=Path,
            metavar="FILE",
            help="Prowler's mutelist YAML (each entry may add reason, expires, approved_by): muted findings stay "
            "in every output, marked with the entry, and are set aside; expired entries are reported, not applied",
        ),
        flag("--only-failed", action="store_true", help="keep only findings with Compliance.Status FAILED"),
        flag("--only-active", action="store_true", help="keep only findings with RecordState ACTIVE"),
        flag(
            "--shard",
            type=shard,
            metavar="K/N",
            help="keep the K-th of N parts of the resources (a stable hash of the ARN) and write a shard "
            "file beside the outputs: 'metahub merge' makes the N shard files into one run's JSON outputs",
        ),
        flag(
            "--split",
            type=bounded(int, 1, 10_000),
            metavar="N",
            help="read the input once and work through it as N shards one after another in this process, "
            "then merge them into the outputs: memory holds one shard (about 150,000 findings a shard keep "
            "a process under 1 GB); the disk, a copy of the findings beside the outputs while it runs",
        ),
        flag(
            "--part",
            type=part_name,
            metavar="NAME",
            help="these inputs are one named part of a larger run (e.g. one account's findings): write a "
            "shard file beside the outputs; 'metahub merge' makes the parts into one run's JSON outputs",
        ),
    ),
)
"""Where findings come from."""


SECURITY_HUB = Group(
    "Security Hub",
    (
        flag(
            "--sh-filters",
            nargs="+",
            default=[],
            metavar="KEY=VALUE",
            help="GetFindings filters, typed by kind: SeverityLabel=HIGH (a key repeated means any), "
            "SeverityNormalized=40..100, UpdatedAt=7d or 2026-01-01..2026-02-01, ResourceTags=Env=prod "
            "(default when no filter or template: RecordState=ACTIVE WorkflowStatus=NEW); for securityhub-v2, "
            "OCSF fields: severity=High, resources.type=AwsS3Bucket, finding_info.modified_time_dt=7d, "
            f"{EXPOSURE_FILTER} (default: status=New); SeverityLabel, WorkflowStatus, ResourceType ... serve both",
        ),
        flag(
            "--sh-template",
            type=Path,
            metavar="FILE",
            help="GetFindings filters as the API takes them (YAML or JSON), any comparison; GetFindingsV2's "
            "when the file holds CompositeFilters",
        ),
        flag(
            "--sh-scope",
            nargs="+",
            default=[],
            metavar="SCOPE",
            help="securityhub-v2 from an organisation's delegated administrator: organization, "
            "organization=o-ID, ou=ou-ID (any of them), or account=ACCOUNT_ID (a filter: Scopes name no account)",
        ),
        flag(
            "--sh-export",
            metavar="S3_URL",
            help="securityhub-v2 in bulk: an export job writes the findings to s3://BUCKET/PREFIX (a folder of "
            "its own per run), and they are read from there as they stream; needs --sh-export-kms-key",
        ),
        flag(
            "--sh-export-kms-key",
            metavar="KEY_ARN",
            help="the KMS key (full ARN, same account and region) Security Hub encrypts the export with",
        ),
        flag("--sh-region", metavar="REGION", help="Security Hub region (default: the profile's)"),
        flag("--sh-account", metavar="ACCOUNT", help="Security Hub account (default: the caller's)"),
        flag(
            "--sh-checkpoint",
            type=Path,
            metavar="FILE",
            help="keep the pages read in FILE as they come, so that a run that stops goes on where it "
            "was; removed once every page is read",
        ),
        flag("--sh-assume-role", metavar="ROLE_NAME", help="role to assume in --sh-account"),
        flag(
            "--sh-external-id",
            type=sts_parameter("ExternalId"),
            metavar="ID",
            help="external ID for --sh-assume-role",
        ),
        flag("--sh-profile", metavar="PROFILE", help="AWS profile for Security Hub"),
        flag(
            "--update-findings",
            nargs="+",
            default=[],
            metavar="FIELD=VALUE",
            help='on every finding of the result: Workflow=NOTIFIED Note="text" Severity=LOW '
            "VerificationState=FALSE_POSITIVE Confidence=N Criticality=N",
        ),
        flag(
            "--enrich-findings",
            action="store_true",
            help="write the context into each finding's UserDefinedFields (implies --context config)",
        ),
        flag(
            "--actions-confirmation",
            action=OneWay,
            default=True,
            help="ask before writing to Security Hub (default); --no-actions-confirmation writes without asking",
        ),
        flag("--dry-run", action="store_true", help="show and save what would be written; write nothing"),
        flag(
            "--tickets",
            choices=["file", "jira", "servicenow", "securityhub"],
            help="one ticket per problem with its context: file writes them (JSON, and CSV Jira imports); jira "
            "(JIRA_URL, JIRA_EMAIL, JIRA_API_TOKEN, JIRA_PROJECT) and servicenow (SERVICENOW_URL, SERVICENOW_USER, "
            "SERVICENOW_PASSWORD) plan them, and send with --tickets-apply, updating the tickets made before",
        ),
        flag("--tickets-connector", metavar="ID", help="--tickets securityhub: the Security Hub connector (CreateTicketV2)"),
        flag("--tickets-group", choices=["resource", "owner", "check"], default="resource",
             help="one ticket per resource (default), per owner, or per check across resources"),
        flag("--tickets-apply", action="store_true", help="send the tickets to the tracker (without it: a dry run)"),
        flag(
            "--notify",
            choices=["slack", "webhook", "pagerduty"],
            help="one message per owner summarising their resources: slack (SLACK_BOT_TOKEN; a direct message "
            "to the owner's email, else the routing file's notify channel), webhook (--notify-url, JSON) or "
            "pagerduty (PAGERDUTY_ROUTING_KEY; an alert event per owner, Events API v2)",
        ),
        flag("--notify-url", metavar="URL", help="where --notify webhook posts"),
        flag("--notify-apply", action="store_true", help="send the notifications (without it: a dry run)"),
    ),
    "reading with --inputs securityhub or securityhub-v2, and writing back",
)
"""Reading from and writing back to Security Hub."""


CONTEXT = Group(
    "Context",
    (
        flag(
            "--context",
            nargs="*",
            choices=list(CONTEXTS),
            default=[],
            help="enrich resources from their accounts: config = MetaChecks, tags = MetaTags, "
            "account = alias, organization, contacts, cloudtrail = MetaTrails (MetaHub v2 flag); "
            "access-analyzer = its findings beside metahub's verdicts; access-analyzer-checks = its "
            "policy checks of each distinct policy (billed per call: counted and confirmed first)",
        ),
        flag("--meta-checks", action="store_true", help="same as --context config (MetaHub v1 flag)"),
        flag("--meta-tags", action="store_true", help="same as --context tags (MetaHub v1 flag)"),
        flag("--meta-account", action="store_true", help="same as --context account (MetaHub v1 flag)"),
        flag("--meta-trails", action="store_true", help="same as --context cloudtrail (MetaHub v1 flag)"),
        flag(
            "--save-context",
            type=Path,
            metavar="FILE",
            help="also write every answer AWS gave the enrichment to FILE (gzip'd JSON lines, secrets "
            "left out): --replay-context evaluates it again later, offline",
        ),
        flag(
            "--replay-context",
            type=Path,
            metavar="FILE",
            help="enrich from a snapshot written by --save-context instead of AWS: no AWS call, no "
            "credentials; what it does not hold is unknown (default contexts: the snapshot's)",
        ),
        flag(
            "--context-cache",
            type=Path,
            metavar="DIR",
            help="keep what AWS answers in DIR (a snapshot file per account and region) and reuse "
            "what is younger than --cache-ttl instead of asking again",
        ),
        flag(
            "--cache-ttl",
            type=duration,
            metavar="DURATION",
            help="how long --context-cache answers are reused: 90s, 30m, 1h, 7d (default: 1h)",
        ),
        flag(
            "--trail-events",
            type=Path,
            metavar="FILE",
            help="CloudTrail event names per resource type (default: metahub/config/trails.json)",
        ),
        flag(
            "--trail-lookback-days",
            type=bounded(int, 1, 90),
            default=90,
            metavar="N",
            help="CloudTrail window in days, 1-90: LookupEvents keeps 90 days (default: 90)",
        ),
        flag(
            "--detection-rules",
            type=Path,
            metavar="FILE",
            help="environment/owner/application rules (default: metahub/config/detection.json)",
        ),
        flag(
            "--routing",
            type=Path,
            metavar="FILE",
            help="who owns each resource (YAML 'owners:' tag_keys, creator, accounts, fallback, in that order): "
            "the Owner and OwnerSource of every output",
        ),
        flag(
            "--mh-assume-role",
            metavar="ROLE_NAME",
            help="assume this role in each affected account (arn:...:iam::<account>:role/ROLE_NAME)",
        ),
        flag(
            "--mh-external-id",
            type=sts_parameter("ExternalId"),
            metavar="ID",
            help="external ID for --mh-assume-role",
        ),
        flag(
            "--mh-role-session-name", type=sts_parameter("RoleSessionName"), default="metahub", metavar="NAME"
        ),
        flag("--mh-profile", metavar="PROFILE", help="AWS profile for the starting credentials"),
        flag(
            "--checks-dir",
            action="append",
            default=[],
            metavar="DIR",
            help="also load MetaChecks from the *.py files in DIR (repeatable)",
        ),
        flag(
            "--max-workers",
            type=bounded(int, 1, 256),
            default=16,
            help="parallel AWS requests, 1-256 (default: 16)",
        ),
        flag(
            "--deadline",
            type=bounded(float, 1, 7 * 86400),
            metavar="SECONDS",
            help="stop reading inputs and calling AWS this long after the run starts; what was read is "
            "kept, what was not fetched is unknown, saying so",
        ),
        flag(
            "--read-timeout",
            type=bounded(float, 1, 3600),
            default=30,
            metavar="SECONDS",
            help="how long one AWS response may take before the call is retried or given up (default: 30)",
        ),
        flag(
            "--list-meta-checks",
            "--list-metachecks",
            action="store_true",
            help="list the MetaChecks per resource type and exit",
        ),
        flag(
            "--json",
            action="store_true",
            help="with --list-meta-checks: as JSON (type -> check -> doc, needs, module)",
        ),
    ),
)
"""What is fetched from the accounts, and how."""


FILTERS = Group(
    "Filters",
    (
        flag(
            "--mh-filters-checks",
            "--mh-filters-config",
            nargs="+",
            default=[],
            metavar="CHECK=True|False",
            help="keep resources whose checks match (True: true or with data; False: false or empty); "
            "implies --context config",
        ),
        flag(
            "--mh-filters-tags",
            nargs="+",
            default=[],
            metavar="KEY=VALUE",
            help="keep resources with at least one of these tags (all of them with --mh-filters-tags-all)",
        ),
        flag("--mh-filters-tags-all", action="store_true", help="every tag pair must match"),
        flag(
            "--mh-filters-impact",
            nargs="+",
            default=[],
            metavar="PROPERTY=VALUE|score>=N",
            help="keep resources by impact (MetaHub's): exposure=effectively-public access=unrestricted "
            "score>=70 (=, >=, <=, >, < for the score); properties imply --context config",
        ),
        flag(
            "--combination-rules",
            nargs="+",
            default=[],
            metavar="FILE",
            help="toxic-combination rules of your own, beside the built-in ones (metahub/config/combinations.json)",
        ),
        flag(
            "--trait-rules",
            nargs="+",
            default=[],
            metavar="FILE",
            help="rules of your own mapping findings to traits, beside metahub/config/traits.json",
        ),
        flag(
            "--impact-config",
            metavar="FILE",
            help="impact weights, an impact.yaml of MetaHub's shape (default: metahub/config/impact.yaml)",
        ),
        flag(
            "--mh-filters-findings",
            nargs="+",
            default=[],
            metavar="FIELD=VALUE[,VALUE]",
            help="keep findings by severity, compliance, workflow, record_state, resource_type, account, "
            "region, title (contains), generator (contains)",
        ),
        flag(
            "--query",
            metavar="JMESPATH",
            help="keep resources whose json-short document (with 'arn') makes this JMESPath truthy; "
            "implies --context config",
        ),
    ),
    "all given must pass; finding filters apply before anything is fetched",
)
"""Which findings and resources are kept."""


OUTPUTS = Group(
    "Outputs",
    (
        flag(
            "--list-findings",
            nargs="*",
            choices=LIST_VIEWS,
            default=None,
            help="print these views as JSON on stdout (alone, as in MetaHub v1: full)",
        ),
        flag(
            "--output-modes",
            nargs="*",
            choices=[*OUTPUT_MODES, "metahub"],
            default=None,
            help="files to write (default: all JSON modes; with --demo, json-short, json-statistics and html; "
            "with --list-findings, none; 'metahub': MetaHub's default set, the JSON modes, html, csv and xlsx; "
            "give the flag alone to write none)",
        ),
        flag("--output-tag-columns", nargs="+", default=[], metavar="TAG", help="CSV/XLSX: a column per tag"),
        flag(
            "--output-account-columns",
            nargs="+",
            default=[],
            metavar="KEY",
            help="CSV/XLSX: a column per account key (AccountId, Alias, Organization; needs --context account)",
        ),
        flag(
            "--output-config-columns",
            nargs="+",
            default=None,
            metavar="CHECK",
            help="CSV/XLSX: a column per MetaCheck (default: the four rollups, when enriched)",
        ),
        output_dir(),
        output_label("metahub-short-LABEL-<time>.json"),
        flag(
            "--report-title",
            metavar="TEXT",
            help="HTML: the report's title (default: named after the account)",
        ),
        flag("--report-customer", metavar="TEXT", help="HTML: who the report is for"),
        flag(
            "--report-max-mb",
            type=bounded(float, 1, 100_000),
            default=LARGEST_MB,
            metavar="MB",
            help=f"HTML: the largest report; a larger run's report holds the resources ranked first that fit "
            f"and says so (default {LARGEST_MB:g})",
        ),
        flag(
            "--baseline",
            type=Path,
            nargs="+",
            metavar="FILE",
            help="HTML: earlier runs' json-full or SQLite outputs, oldest first; the report opens on what "
            "changed since the last (regressions, new and fixed findings; 'metahub diff' for every change) "
            "and the counts of each over time",
        ),
    ),
)
"""What is written, and where."""


GENERAL = Group(
    "General",
    (
        flag("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper),
        flag(
            "--log-wire",
            action="store_true",
            help="also log AWS requests and responses (botocore, urllib3), credentials masked",
        ),
        flag("--log-file", type=Path, metavar="FILE", help="write the log to FILE too"),
        flag(
            "--banners",
            action=OneWay,
            default=True,
            help="print the banner on stderr (default: on)",
        ),
        flag("--quiet", action="store_true", help="print nothing on stderr but errors"),
    ),
)
"""Logging, banner, quiet."""


RUN: tuple[Group, ...] = (INPUTS, SECURITY_HUB, CONTEXT, FILTERS, OUTPUTS, GENERAL)
"""The default command's groups, in ``--help`` order."""
