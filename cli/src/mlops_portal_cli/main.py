"""mlops-portal: register models, push versions and follow them from a terminal or a pipeline.

URL and token come from --url/--token, then PORTAL_URL/PORTAL_TOKEN, then the stored login
(`mlops-portal login`), whose token is only ever sent to the URL it was stored for. Output is for
people by default; --json prints the API's JSON for scripts.

Exit codes: 0 done; 1 the portal refused the request (its message is printed); 2 wrong usage;
3 the portal could not be reached or failed; 4 the version failed validation (push --wait,
import --wait).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import stat
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests

REFUSED, USAGE, UNREACHABLE, FAILED_VALIDATION = 1, 2, 3, 4
WAITING_STATES = {"validating"}


class CliError(Exception):
    def __init__(self, message: str, code: int = REFUSED) -> None:
        super().__init__(message)
        self.code = code


def config_path() -> Path:
    if custom := os.environ.get("PORTAL_CONFIG"):
        return Path(custom)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "mlops-portal" / "credentials.json"


def load_login() -> dict[str, str]:
    path = config_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise CliError(
            f"The stored login at {path} is unreadable; run `mlops-portal login`.", USAGE
        ) from None
    return data if isinstance(data, dict) else {}


def store_login(url: str, token: str, username: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=stat.S_IRUSR | stat.S_IWUSR, exist_ok=True)
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)  # the token is a password: readable by its owner only
    path.write_text(json.dumps({"url": url, "token": token, "username": username}))
    return path


class Portal:
    """A thin client of the REST API that turns refusals into CliError with the server's words."""

    def __init__(self, url: str, token: str | None, timeout: float = 300) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "mlops-portal-cli/1"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.session.request(
                method, f"{self.url}/api/v1/{path.lstrip('/')}", timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise CliError(f"Cannot reach the portal at {self.url}: {exc}", UNREACHABLE) from None
        if response.status_code >= 500:
            raise CliError(
                f"The portal failed (HTTP {response.status_code}); try again later.", UNREACHABLE
            )
        body: Any = None
        if response.content:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:500]}
        if response.status_code >= 400:
            raise CliError(_message(response.status_code, body), REFUSED)
        return body


def _message(status: int, body: Any) -> str:
    if isinstance(body, dict):
        if "detail" in body:
            text = str(body["detail"])
            if status == 401:
                text += " Run `mlops-portal login`, or pass --token."
            return text
        return "; ".join(
            f"{field}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for field, v in body.items()
        )
    return f"HTTP {status}"


def connect(args: argparse.Namespace, *, need_token: bool = True) -> Portal:
    stored = load_login()
    url = args.url or os.environ.get("PORTAL_URL") or stored.get("url")
    if not url:
        raise CliError(
            "Say which portal: --url, PORTAL_URL, or `mlops-portal login --url …`.", USAGE
        )
    token = args.token or os.environ.get("PORTAL_TOKEN")
    # The stored token goes only to the portal it came from, never to another --url.
    if not token and _same_portal(url, stored.get("url")):
        token = stored.get("token")
    if need_token and not token:
        raise CliError(
            f"Not logged in to {url}: run `mlops-portal login --url {url}`, or pass --token.",
            USAGE,
        )
    return Portal(url, token)


def _same_portal(url: str, stored_url: str | None) -> bool:
    return stored_url is not None and url.rstrip("/") == stored_url.rstrip("/")


def emit(args: argparse.Namespace, data: Any, human: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True) if args.json else human)


# --- Commands ---------------------------------------------------------------------------------


def cmd_login(args: argparse.Namespace) -> int:
    if args.token_stdin:
        return _login_with_token(args)
    portal = connect(args, need_token=False)
    username = args.username or input("Username: ")
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
    body = portal.call(
        "POST",
        "auth/token/",
        json={
            "username": username,
            "password": password,
            "name": args.name,
            "expires_in_days": args.days,
        },
    )
    path = store_login(portal.url, body["token"], username)
    emit(
        args,
        {k: v for k, v in body.items() if k != "token"},
        f"Logged in to {portal.url} as {username}; token stored in {path} "
        f"(expires {body['expires_at'][:10]}).",
    )
    return 0


def _login_with_token(args: argparse.Namespace) -> int:
    """Store a token made on the portal's "API tokens" page: for people who sign in through
    single sign-on and have no portal password to exchange for one."""
    url = args.url or os.environ.get("PORTAL_URL") or load_login().get("url")
    if not url:
        raise CliError("Say which portal: --url or PORTAL_URL.", USAGE)
    token = sys.stdin.readline().strip()
    if not token:
        raise CliError(
            "Give the token on standard input (from the portal's API tokens page).", USAGE
        )
    me = Portal(url, token).call("GET", "me/")  # refused (401) if the token is not valid there
    path = store_login(url, token, me["username"])
    emit(
        args,
        me,
        f"Logged in to {url.rstrip('/')} as {me['username']}; token stored in {path}.",
    )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    params = {
        k: v
        for k, v in {"q": args.search, "risk_tier": args.risk_tier, "team": args.team}.items()
        if v
    }
    body = connect(args).call("GET", "models/", params=params)
    rows = [
        (
            m["slug"],
            m["name"],
            m["team"],
            m["risk_tier"],
            f"v{m['latest_version']['number']} {m['latest_version']['status']}"
            if m["latest_version"]
            else "no versions",
        )
        for m in body["results"]
    ]
    more = f"\n… {body['count'] - len(rows)} more; narrow with --search" if body["next"] else ""
    emit(args, body, _table(("SLUG", "NAME", "TEAM", "RISK", "LATEST"), rows) + more)
    return 0


def cmd_findings(args: argparse.Namespace) -> int:
    params = {
        k: v
        for k, v in {
            "model": args.model,
            "state": args.state,
            "severity": args.severity,
            "overdue": "true" if args.overdue else "",
        }.items()
        if v
    }
    body = connect(args).call("GET", "findings/", params=params)
    rows = [
        (
            f["id"],
            f"v{f['version']}",
            f["severity"],
            f["state"] + (" OVERDUE" if f["overdue"] else ""),
            f["owner"],
            f["due_date"],
            f["title"],
        )
        for f in body["results"]
    ]
    more = f"\n… {body['count'] - len(rows)} more; narrow with --state" if body["next"] else ""
    header = ("ID", "VERSION", "SEVERITY", "STATE", "OWNER", "DUE", "TITLE")
    emit(args, body, (_table(header, rows) if rows else "No findings.") + more)
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    body = connect(args).call(
        "POST",
        "models/",
        json={
            "name": args.name,
            "team": args.team,
            "risk_tier": args.risk_tier,
            "risk_owner": args.risk_owner,
            "use_case": args.use_case,
            "description": args.description or "",
            "tags": args.tag or [],
        },
    )
    emit(args, body, f"Registered {body['name']} as {body['slug']}.")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    portal = connect(args)
    paths = {"artifact": args.artifact, "holdout": args.holdout, "reference": args.reference}
    with ExitStack() as stack:
        files = {}
        for field, path in paths.items():
            if path is None:
                continue
            try:
                handle = stack.enter_context(open(path, "rb"))
            except OSError as exc:
                raise CliError(f"Cannot read {path}: {exc.strerror}", USAGE) from None
            files[field] = (Path(path).name, handle, "application/octet-stream")
        version = portal.call(
            "POST",
            f"models/{args.model}/versions/",
            data={
                "target_column": args.target,
                "sensitive_column": args.sensitive or "",
                "notes": args.notes or "",
            },
            files=files,
        )
    if not args.json:
        print(f"Uploaded {args.model} version {version['number']} ({version['status']}).")
    if not args.wait:
        if args.json:
            print(json.dumps(version, indent=2, sort_keys=True))
        return 0
    version = _wait(portal, args.model, version["number"], args.timeout, quiet=args.json)
    validation = portal.call("GET", f"models/{args.model}/versions/{version['number']}/validation/")
    if args.json:
        print(json.dumps({"version": version, "validation": validation}, indent=2, sort_keys=True))
    else:
        print(_validation_summary(validation))
    return FAILED_VALIDATION if version["status"] == "validation_failed" else 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import a version of the model's linked MLflow model; --wait follows the import job and
    then the validation, as push --wait does."""
    portal = connect(args)
    data = {
        "reference": args.reference,
        "target_column": args.target,
        "sensitive_column": args.sensitive or "",
        "notes": args.notes or "",
    }
    with ExitStack() as stack:
        files = {}
        if args.holdout_artifact is not None:
            # The run's own data set: the portal's worker fetches it from MLflow.
            data["holdout_artifact"] = args.holdout_artifact
        else:
            try:
                holdout = stack.enter_context(open(args.holdout, "rb"))
            except OSError as exc:
                raise CliError(f"Cannot read {args.holdout}: {exc.strerror}", USAGE) from None
            files["holdout"] = (Path(args.holdout).name, holdout, "application/octet-stream")
        record = portal.call(
            "POST", f"models/{args.model}/versions/import/", data=data, files=files or None
        )
    if not args.json:
        print(f"Importing {record['reference']} into {args.model} (import {record['id']}).")
    if not args.wait:
        if args.json:
            print(json.dumps(record, indent=2, sort_keys=True))
        return 0
    deadline = time.monotonic() + args.timeout
    while record["state"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise CliError(
                f"The import is still {record['state']} after {args.timeout:.0f} s; check later "
                f"with `mlops-portal status {args.model}`.",
                UNREACHABLE,
            )
        if not args.json:
            job = record.get("job") or {}
            print(f"  … {job.get('message') or record['state']}", file=sys.stderr)
        time.sleep(2)
        record = portal.call("GET", f"imports/{record['id']}/")
    if record["state"] != "imported":
        if args.json:
            print(json.dumps({"import": record}, indent=2, sort_keys=True))
        raise CliError(f"The import failed: {record['failure']}", REFUSED)
    if not args.json:
        print(
            f"Imported MLflow version {record['mlflow_version']} as {args.model} version "
            f"{record['version']}."
        )
    remaining = max(deadline - time.monotonic(), 1.0)
    version = _wait(portal, args.model, record["version"], remaining, quiet=args.json)
    validation = portal.call("GET", f"models/{args.model}/versions/{version['number']}/validation/")
    if args.json:
        print(
            json.dumps(
                {"import": record, "version": version, "validation": validation},
                indent=2,
                sort_keys=True,
            )
        )
    else:
        print(_validation_summary(validation))
    return FAILED_VALIDATION if version["status"] == "validation_failed" else 0


def _validation_summary(validation: dict[str, Any]) -> str:
    document = validation.get("report")
    if not document:
        job = validation.get("job") or {}
        return f"Validation did not produce a report: {job.get('message') or 'no job found'}"
    lines = [
        f"Validation {document['outcome'].upper()}"
        + (
            f" (policy: {document['policy']['scope']} v{document['policy']['number']})"
            if document.get("policy")
            else ""
        )
    ]
    lines += [f"  ✗ {reason}" for reason in document["reasons"]]
    report = document["report"]
    metrics = report.get("metrics", {})
    shown = [k for k in ("roc_auc", "accuracy", "f1", "ks", "r2", "rmse") if k in metrics]
    if shown:
        lines.append(
            "  "
            + "  ".join(
                f"{k}={metrics[k]:.4f}" if metrics[k] is not None else f"{k}=n/a" for k in shown
            )
        )
    for check in document.get("checks", []):
        mark = {True: "pass", False: "FAIL", None: "n/a "}[check["passed"]]
        value = "—" if check["value"] is None else f"{check['value']:.4g}"
        lines.append(
            f"  [{mark}] {check['label']} {check['comparison']} {check['threshold']:g}: {value}"
        )
    return "\n".join(lines)


def _wait(portal: Portal, model: str, number: int, timeout: float, quiet: bool) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    version: dict[str, Any] = portal.call("GET", f"models/{model}/versions/{number}/")
    while version["status"] in WAITING_STATES:
        if time.monotonic() > deadline:
            raise CliError(
                f"Still {version['status']} after {timeout:.0f} s; check later with "
                f"`mlops-portal status {model} {number}`.",
                UNREACHABLE,
            )
        if not quiet:
            print(f"  … {version['status']}", file=sys.stderr)
        time.sleep(2)
        version = portal.call("GET", f"models/{model}/versions/{number}/")
    return version


def _describe(version: dict[str, Any]) -> str:
    lines = [
        f"{version['model']} version {version['number']}: {version['status']}",
        f"  uploaded by {version['uploaded_by']} at {version['created_at']}",
        f"  target column {version['target_column']}",
    ]
    for stored in version.get("files", []):
        lines.append(
            f"  {stored['role']:<10} {stored['original_name']}  {stored['size']} bytes  "
            f"sha256 {stored['sha256'][:16]}…"
        )
    return "\n".join(lines)


def cmd_review(args: argparse.Namespace) -> int:
    """Request review of a version, or (with --show) print where its review stands."""
    portal = connect(args)
    path = f"models/{args.model}/versions/{args.version}/review/"
    if args.show:
        review = portal.call("GET", path)
    else:
        if not args.summary:
            raise CliError("Say what the reviewers should know: --summary TEXT.", USAGE)
        review = portal.call(
            "POST", path, json={"summary": args.summary, "justification": args.justification or ""}
        )
    lines = [
        f"{review['model']} version {review['version']}: review {review['status']}"
        + (" (policy exception)" if review["is_exception"] else ""),
        f"  policy {review['policy']}: needs "
        + ", ".join(f"{n} {role}" for role, n in review["sign_offs_required"].items()),
    ]
    for decision in review["decisions"]:
        lines.append(
            f"  {decision['role']}: {decision['decision']} by {decision['reviewer']}: "
            f"{decision['reason']}"
        )
    emit(args, review, "\n".join(lines))
    return 0


def _deployment_line(deployment: dict[str, Any]) -> str:
    mode = deployment.get("mode", "champion")
    as_what = ""
    if mode == "shadow":
        as_what = " as a shadow challenger"
    elif mode == "canary":
        as_what = f" as a canary challenger ({deployment.get('traffic')} % of requests)"
    return (
        f"{deployment['model']} version {deployment['version']} in "
        f"{deployment['environment']}{as_what}: {deployment['status']}"
        + (f" ({deployment['message']})" if deployment.get("message") else "")
    )


def cmd_deploy(args: argparse.Namespace) -> int:
    portal = connect(args)
    asked: dict[str, Any] = {
        "model": args.model,
        "version": args.version,
        "environment": args.environment,
    }
    if args.shadow:
        asked["mode"] = "shadow"
    elif args.canary is not None:
        asked.update(mode="canary", traffic=args.canary)
    deployment = portal.call("POST", "deployments/", json=asked)
    if args.wait:
        deadline = time.monotonic() + args.timeout
        while deployment["status"] in ("queued", "running"):
            if time.monotonic() > deadline:
                raise CliError(
                    f"Still {deployment['status']} after {args.timeout:.0f} s.", UNREACHABLE
                )
            time.sleep(1)
            deployment = portal.call("GET", f"deployments/{deployment['id']}/")
    emit(args, deployment, _deployment_line(deployment))
    return REFUSED if deployment["status"] == "failed" else 0


def cmd_rollback(args: argparse.Namespace) -> int:
    deployment = connect(args).call(
        "POST", "deployments/rollback/", json={"model": args.model, "environment": args.environment}
    )
    emit(args, deployment, "Rolled back: " + _deployment_line(deployment))
    return 0


def cmd_challenger(args: argparse.Namespace) -> int:
    asked: dict[str, Any] = {
        "model": args.model,
        "environment": args.environment,
        "reason": args.reason,
    }
    if args.traffic is not None:
        action, asked["traffic"] = "traffic", args.traffic
    else:
        action = "promote" if args.promote else "stop"
    deployment = connect(args).call("POST", f"deployments/challenger/{action}/", json=asked)
    said = {"traffic": "Share changed", "promote": "Promoted", "stop": "Stopped"}[action]
    emit(args, deployment, f"{said}: " + _deployment_line(deployment))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Score the rows of a CSV file with the model live in an environment (a serving key)."""
    import csv

    key = args.key or os.environ.get("PORTAL_SERVING_KEY")
    if not key:
        raise CliError("Pass a serving key with --key or PORTAL_SERVING_KEY.", USAGE)
    try:
        with open(args.file, newline="") as handle:
            records = [
                {name: _cell(value) for name, value in row.items()}
                for row in csv.DictReader(handle)
            ]
    except OSError as exc:
        raise CliError(f"Cannot read {args.file}: {exc.strerror}", USAGE) from None
    for column in args.drop or []:
        for record in records:
            record.pop(column, None)
    stored = load_login()
    url = args.url or os.environ.get("PORTAL_URL") or stored.get("url")
    if not url:
        raise CliError("Say which portal: --url or PORTAL_URL.", USAGE)
    portal = Portal(url, None)
    portal.session.headers["Authorization"] = f"Bearer {key}"
    try:
        response = portal.session.post(
            f"{portal.url}/serve/{args.model}/{args.environment}/predict",
            json={"records": records},
            timeout=portal.timeout,
        )
    except requests.RequestException as exc:
        raise CliError(f"Cannot reach the portal at {portal.url}: {exc}", UNREACHABLE) from None
    body = response.json() if response.content else {}
    if response.status_code >= 400:
        raise CliError(
            str(body.get("error", f"HTTP {response.status_code}")),
            UNREACHABLE if response.status_code >= 500 else REFUSED,
        )
    lines = [
        f"{args.model} version {body['version']} in {args.environment}, request "
        f"{body['request_id']}"
    ]
    lines += [str(p) for p in body["predictions"]]
    emit(args, body, "\n".join(lines))
    return 0


def _cell(value: str) -> Any:
    """CSV text to the JSON value the signature expects: numbers as numbers, empty as null."""
    if value == "":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return {"true": True, "false": False}.get(value.lower(), value)


def cmd_status(args: argparse.Namespace) -> int:
    portal = connect(args)
    if args.version is not None:
        version = portal.call("GET", f"models/{args.model}/versions/{args.version}/")
        emit(args, version, _describe(version))
        return 0
    model = portal.call("GET", f"models/{args.model}/")
    versions = portal.call("GET", f"models/{args.model}/versions/")
    rows = [
        (f"v{v['number']}", v["status"], v["uploaded_by"], v["created_at"][:16])
        for v in versions["results"]
    ]
    human = (
        f"{model['name']} ({model['slug']}), team {model['team']}, {model['risk_tier']} risk, "
        f"risk owner {model['risk_owner']}\n"
        + (_table(("VERSION", "STATUS", "BY", "UPLOADED"), rows) if rows else "no versions")
    )
    emit(args, {"model": model, "versions": versions["results"]}, human)
    return 0


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return "(nothing)"
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="the portal, e.g. https://portal.bank.example")
    common.add_argument("--token", help="a personal API token")
    common.add_argument("--json", action="store_true", help="print JSON for scripts")

    main_parser = argparse.ArgumentParser(
        prog="mlops-portal",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = main_parser.add_subparsers(dest="command", required=True)

    login = commands.add_parser("login", parents=[common], help="get a token and store it")
    login.add_argument("--username")
    login.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    login.add_argument(
        "--token-stdin",
        action="store_true",
        help="store a token made on the portal's API tokens page, read from standard input "
        "(for single sign-on, where you have no portal password)",
    )
    login.add_argument("--name", default="mlops-portal CLI", help="the token's name")
    login.add_argument("--days", type=int, default=90, help="days until the token expires")
    login.set_defaults(run=cmd_login)

    models = commands.add_parser("models", parents=[common], help="list models you may see")
    models.add_argument("--search")
    models.add_argument("--risk-tier", choices=["high", "medium", "low"])
    models.add_argument("--team")
    models.set_defaults(run=cmd_models)

    register = commands.add_parser("register", parents=[common], help="register a model")
    register.add_argument("name")
    register.add_argument("--team", required=True, help="owning team's slug")
    register.add_argument("--risk-tier", required=True, choices=["high", "medium", "low"])
    register.add_argument("--risk-owner", required=True, help="username of the risk owner")
    register.add_argument("--use-case", required=True)
    register.add_argument("--description")
    register.add_argument("--tag", action="append")
    register.set_defaults(run=cmd_register)

    push = commands.add_parser("push", parents=[common], help="upload a new version")
    push.add_argument("model", help="the model's slug")
    push.add_argument("artifact", help=".skops file (or .joblib/.pkl where allowed)")
    push.add_argument("--holdout", required=True, help="CSV or Parquet holdout data")
    push.add_argument("--target", required=True, help="the holdout's target column")
    push.add_argument("--reference", help="a sample of the training data")
    push.add_argument("--sensitive", help="a holdout column to measure fairness across")
    push.add_argument("--notes", help="release notes")
    push.add_argument("--wait", action="store_true", help="wait for validation to finish")
    push.add_argument("--timeout", type=float, default=1800, help="seconds to wait at most")
    push.set_defaults(run=cmd_push)

    imported = commands.add_parser(
        "import", parents=[common], help="import a version from the linked MLflow model"
    )
    imported.add_argument("model", help="the model's slug (linked to MLflow on its page)")
    imported.add_argument(
        "reference", help="models:/name/7, models:/name@candidate, 7 or @candidate"
    )
    holdout = imported.add_mutually_exclusive_group(required=True)
    holdout.add_argument("--holdout", help="CSV or Parquet holdout data")
    holdout.add_argument(
        "--holdout-artifact",
        metavar="PATH",
        help="instead of --holdout: a CSV or Parquet data set the version's MLflow run logged, "
        "by its path under the run's artifacts (e.g. data/holdout.csv)",
    )
    imported.add_argument("--target", required=True, help="the holdout's target column")
    imported.add_argument("--sensitive", help="a holdout column to measure fairness across")
    imported.add_argument("--notes", help="release notes")
    imported.add_argument(
        "--wait", action="store_true", help="wait for the import, then for validation"
    )
    imported.add_argument("--timeout", type=float, default=1800, help="seconds to wait at most")
    imported.set_defaults(run=cmd_import)

    review = commands.add_parser(
        "review", parents=[common], help="request review of a version (or --show its review)"
    )
    review.add_argument("model")
    review.add_argument("version", type=int)
    review.add_argument("--summary", help="what changed and why it is ready")
    review.add_argument(
        "--justification", help="why a version that failed validation should be reviewed anyway"
    )
    review.add_argument("--show", action="store_true", help="print the review instead")
    review.set_defaults(run=cmd_review)

    deploy = commands.add_parser(
        "deploy", parents=[common], help="deploy an approved version to an environment"
    )
    deploy.add_argument("model")
    deploy.add_argument("version", type=int)
    deploy.add_argument("environment")
    deploy.add_argument("--wait", action="store_true", help="wait until it is live or failed")
    deploy.add_argument("--timeout", type=float, default=600)
    beside = deploy.add_mutually_exclusive_group()
    beside.add_argument(
        "--shadow",
        action="store_true",
        help="run beside the live version, scoring the same requests without answering",
    )
    beside.add_argument(
        "--canary",
        type=int,
        metavar="PERCENT",
        help="run beside the live version, answering this share of the requests (1 to 50)",
    )
    deploy.set_defaults(run=cmd_deploy)

    challenger = commands.add_parser(
        "challenger",
        parents=[common],
        help="change a canary's share, or promote or stop the challenger",
    )
    challenger.add_argument("model")
    challenger.add_argument("environment")
    change = challenger.add_mutually_exclusive_group(required=True)
    change.add_argument("--traffic", type=int, metavar="PERCENT", help="a canary's new share")
    change.add_argument("--promote", action="store_true", help="make it the live version")
    change.add_argument("--stop", action="store_true", help="stop it")
    challenger.add_argument("--reason", required=True, help="kept in the audit trail")
    challenger.set_defaults(run=cmd_challenger)

    rollback = commands.add_parser(
        "rollback", parents=[common], help="put back the previously live version"
    )
    rollback.add_argument("model")
    rollback.add_argument("environment")
    rollback.set_defaults(run=cmd_rollback)

    predict = commands.add_parser(
        "predict", parents=[common], help="score a CSV file with the live model"
    )
    predict.add_argument("model")
    predict.add_argument("environment")
    predict.add_argument("file", help="CSV with one column per feature")
    predict.add_argument("--key", help="serving key (or PORTAL_SERVING_KEY)")
    predict.add_argument(
        "--drop",
        action="append",
        help="a column of the file that is not a feature (e.g. the target)",
    )
    predict.set_defaults(run=cmd_predict)

    findings = commands.add_parser(
        "findings", parents=[common], help="a model's findings and where they stand"
    )
    findings.add_argument("model")
    findings.add_argument(
        "--state", choices=["unclosed", "open", "remediated", "closed"], default="unclosed"
    )
    findings.add_argument("--severity", choices=["low", "medium", "high", "critical"])
    findings.add_argument("--overdue", action="store_true", help="only those past their due date")
    findings.set_defaults(run=cmd_findings)

    status = commands.add_parser("status", parents=[common], help="a model or one version")
    status.add_argument("model")
    status.add_argument("version", nargs="?", type=int)
    status.set_defaults(run=cmd_status)
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except CliError as exc:
        print(f"mlops-portal: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    return code
