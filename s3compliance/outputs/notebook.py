"""Running the report notebook: from the command line (papermill), and inside the notebook.

``s3compliance run`` validates the parameters with the same code as ``scan`` (so a typo fails
before any kernel starts), makes a staging run folder, executes the report notebook into it with
papermill, renders the executed notebook to HTML with its code hidden, and only then
moves the folder into place. A failed execution leaves no run folder; its executed notebook is kept
under ``<output>/failed/`` for diagnosis.

Inside the notebook, :func:`notebook_params` and :func:`open_scanner` turn the parameters cell into
a validated :class:`Params` and a scanner (of the embedded demo account when ``demo`` is true: the
kernel is a separate process, so it starts its own).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from s3compliance.actions import alerts, tagging
from s3compliance.outputs.headline import Headline, headline, headline_html, worst_table_html
from s3compliance.outputs.jsonstream import read_object_without
from s3compliance.outputs.report import report_head
from s3compliance.outputs.runfolder import (
    StagedRun,
    atomic_write_text,
    project_output_dir,
    staged_run,
)
from s3compliance.outputs.signing import Signer, signer_for
from s3compliance.params import KEYS, Params, validate
from s3compliance.scan.aws import Clients
from s3compliance.scan.scanner import Scanner, ScanResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from s3compliance.scan.org_scanner import OrgScanner

log = logging.getLogger(__name__)

#: The report notebook as shipped in the package (in a checkout, a link to notebooks/), so that
#: `s3compliance run` and `demo` work from a wheel install with no checkout.
REPO_NOTEBOOK = Path(__file__).parent / "report_notebook" / "compliance_report.ipynb"
#: Parameters the notebook has beyond the params file (set by ``s3compliance run``).
NOTEBOOK_ONLY = ("run_dir", "published_dir", "show_progress")
_demo_account: Any = None


class NotebookFailed(RuntimeError):
    """The notebook raised; the message names the cell's error and where the notebook was kept."""


class NotebookStop(RuntimeError):
    """A condition the notebook reader must fix, shown as one line instead of a traceback
    (IPython renders an exception with ``_render_traceback_`` as the lines it returns)."""

    def _render_traceback_(self) -> list[str]:
        return [f"s3compliance: {self}"]


def notebook_params(namespace: Mapping[str, Any]) -> Params:
    """The validated :class:`Params` from the notebook's parameters cell.

    ``output_dir`` left at ``None`` (the notebook's default) means the project's ``output/``,
    found from the kernel's folder, so a JupyterLab run lands where the command line's does; a
    value given (``s3compliance run``, ``papermill -p``) is used as it is.
    """
    values = {k: namespace[k] for k in KEYS if k in namespace}
    if values.get("output_dir") is None:
        values["output_dir"] = str(project_output_dir())
    return validate(values, "notebook parameters")


def discover(scanner: Scanner | OrgScanner) -> pd.DataFrame:
    """The notebook's discovery step: missing credentials are one line naming the two ways out."""
    from botocore.exceptions import NoCredentialsError, ProfileNotFound

    try:
        return scanner.discover()
    except (NoCredentialsError, ProfileNotFound) as exc:
        raise NotebookStop(
            f"no usable AWS credentials ({exc}): configure credentials or set aws_profile, "
            "or set demo = True to scan the embedded demo account"
        ) from None


def run_date_of(params: Params) -> str:
    """The date shown on the report: the parameter, else today (UTC)."""
    return params.run_date or datetime.now(UTC).date().isoformat()


def open_scanner(params: Params) -> Scanner | OrgScanner:
    """A scanner for the account(s) the parameters name: the demo account when ``demo`` is
    true, the demo organization when it is ``org``; an :class:`OrgScanner` for an account list,
    the organization or the Dask engine.

    The demo account lives as long as the kernel; calling this again re-seeds a fresh one.
    """
    global _demo_account
    from s3compliance.scan.org_scanner import OrgScanner

    if not params.demo:
        return OrgScanner(params) if params.multi_account else Scanner(params)
    from s3compliance.scan.aws import Clients

    if _demo_account is not None:
        _demo_account.stop()
    if params.demo == "org":
        from s3compliance.testing.org_demo import DemoOrganization

        _demo_account = DemoOrganization()
        session = _demo_account.start()
        return OrgScanner(params, session=session, hook=_demo_account.hook)
    from s3compliance.testing.demo import DemoAccount

    _demo_account = DemoAccount()
    session = _demo_account.start()
    return Scanner(params, clients=Clients(session, None, params.max_workers))


TEMPLATES = Path(__file__).resolve().parent / "templates"


def report_title(params: Params, account_id: str = "") -> str:
    """The page title: the report's name, the account(s) and the date."""
    account = f" · account {account_id}" if account_id else ""
    return f"S3 compliance report{account} · {', '.join(params.regions)} · {run_date_of(params)}"


def evidence_header(run: StagedRun, signer: Signer | None, params: Params) -> dict[str, Any]:
    """What the report's top says of its evidence: the run it chains to (that run's manifest
    digest), who signs it, where it is archived. Its own manifest digest cannot be there: the
    report is one of the files the manifest hashes."""
    assert run.final is not None
    previous = run.previous
    archive = params.evidence_archive
    return {
        "run_id": run.final.name,
        "previous_run_id": previous.run_id if previous else None,
        "previous_manifest_sha256": previous.manifest_sha256 if previous else None,
        "signed_by": signer.key if signer else None,
        "algorithm": signer.algorithm if signer else None,
        "archive": f"{archive.rstrip('/')}/{run.final.name}/" if archive else None,
    }


def export_html(
    notebook: Path,
    html: Path,
    title: str = "S3 compliance report",
    evidence: dict[str, Any] | None = None,
) -> None:
    """Render an executed notebook as a self-contained HTML report with its code cells hidden
    (a report, not a program): the ``s3report`` template loads nothing from the network.
    ``evidence`` (:func:`evidence_header`) is shown at the top."""
    import nbformat
    from nbconvert import HTMLExporter

    # Built on the classic template, which carries the charts' alt text from cell metadata.
    exporter = HTMLExporter(
        template_name="s3report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_output_prompt=True,
    )
    node = nbformat.read(notebook, as_version=4)
    node.metadata["title"] = title
    if evidence is not None:
        node.metadata["s3compliance_evidence"] = evidence
    body, _ = exporter.from_notebook_node(node)
    atomic_write_text(html, body)


def export_html_apart(
    notebook: Path,
    html: Path,
    title: str = "S3 compliance report",
    evidence: dict[str, Any] | None = None,
) -> None:
    """:func:`export_html` in a fresh process of its own. Rendering reads the executed notebook
    whole and builds the page in memory (540 MiB at 100,000 buckets); done here it would add to
    what papermill's run of the notebook already holds, and Python seldom returns freed memory
    to the system. Apart, the largest process is the larger of the two, not their sum. An error
    in the child is raised here as it was raised there."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # no copy of this process's memory
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        pool.submit(export_html, notebook, html, title, evidence).result()


class MissingExtra(RuntimeError):
    """An optional dependency the request needs is not installed; the message says which."""


def require_demo_extra() -> None:
    """The demo account runs moto in-process: say which extra installs it, before any kernel."""
    try:
        import moto  # noqa: F401
    except ImportError as exc:
        raise MissingExtra("the demo account needs moto: pip install 's3compliance[demo]'") from exc


@dataclass(frozen=True)
class NotebookRun:
    folder: Path
    summary: dict[str, Any]
    accounts: pd.DataFrame
    exceptions: dict[str, Any] | None = None  # the report's accepted risks, when a file was applied


def run_notebook(params: Params, notebook: Path = REPO_NOTEBOOK) -> NotebookRun:
    """Execute the report notebook into a new run folder of ``params.output_dir``."""
    import papermill

    if not notebook.exists():
        raise FileNotFoundError(f"report notebook not found: {notebook}")
    if params.demo:
        require_demo_extra()
    output_dir = Path(params.output_dir).resolve()
    signer = signer_for(params)  # a KMS key that cannot sign stops the run before the kernel
    with staged_run(output_dir, params.run_id, signer) as run:
        executed = run.staging / notebook.name
        values = {
            **params.to_dict(),
            "output_dir": str(output_dir),
            "run_date": run_date_of(params),
            "run_dir": str(run.staging),
            "published_dir": str(run.planned),
            "show_progress": False,
        }
        try:
            papermill.execute_notebook(
                str(notebook),
                str(executed),
                parameters=values,
                kernel_name="python3",
                progress_bar=False,
                cwd=os.getcwd(),
                # the kernel talks to us over loopback only; its TCP-transport warning is noise
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
        except papermill.PapermillExecutionError as exc:
            kept = output_dir / "failed" / f"{run.staging.name.strip('.')}.ipynb"
            kept.parent.mkdir(exist_ok=True)
            shutil.copyfile(executed, kept)
            raise NotebookFailed(f"{exc.ename}: {exc.evalue} (executed notebook: {kept})") from exc
        # the head only: the bucket entries are most of the file (1 GiB parsed at 100k buckets)
        report = read_object_without(run.staging / "findings.json", "buckets")
        title = report_title(params, report["account_id"])

        def render(staged: StagedRun) -> None:  # under the publish lock: the chain is known
            html = staged.staging / "report.html"
            export_html_apart(executed, html, title, evidence_header(staged, signer, params))

        run.before_publish = render
        summary = report["summary"]
        accounts = pd.DataFrame(report.get("accounts", []))
    assert run.final is not None
    return NotebookRun(run.final, summary, accounts, report.get("exceptions"))


def tagging_step(
    result: ScanResult, scanner: Scanner | OrgScanner, params: Params
) -> pd.DataFrame | str:
    """The notebook's tagging cell: plan and apply when ``apply_tags`` is on, else say it is off."""
    if not params.apply_tags:
        return "Tagging is off (apply_tags: false): the scan made no write."
    plan = tagging.plan_tags(result.buckets, params.tag_key)
    return tagging.apply_tags(plan, scanner.clients, scanner.retry, params.tag_key)


def alerts_step(
    result: ScanResult, scanner: Scanner | OrgScanner, params: Params
) -> pd.DataFrame | str:
    """The notebook's alerting cell: every configured channel, or a note that none is."""
    if not (params.sns_topic_arn or params.publish_metrics or params.sqs_queue_url):
        return "No alerting configured (sns_topic_arn, publish_metrics, sqs_queue_url)."
    return alerts.send_alerts(
        report_head(result),
        result.buckets,
        scanner.clients,
        scanner.retry,
        sns_topic_arn=params.sns_topic_arn,
        announce=buckets_to_announce(result, params),
        publish_cloudwatch=params.publish_metrics,
        metrics_region=params.home_region,
        sqs_queue_url=params.sqs_queue_url,
    )


def archive_step(folder: Path, params: Params, run_dir: str = "") -> pd.DataFrame | str:
    """The notebook's evidence archive cell: archive the published run write-once when
    ``evidence_archive`` is set; under ``s3compliance run`` (``run_dir`` set) the command
    archives once it has published (the folder is not final yet)."""
    if not params.evidence_archive:
        return "Evidence archive is off (evidence_archive is not set)."
    if run_dir:
        return "Evidence archive: `s3compliance run` archives once the run folder is published."
    from s3compliance.outputs.evidence_archive import archive_folder, outcomes_table

    return outcomes_table(archive_folder(folder, params.evidence_archive, params))


def securityhub_step(
    folder: Path, scanner: Scanner | OrgScanner, params: Params, run_dir: str = ""
) -> pd.DataFrame | str:
    """The notebook's Security Hub cell: import the published run through the scan's own
    sessions (each account its own: the default product takes only its own findings); under
    ``s3compliance run`` (``run_dir`` set) the command imports once it has published."""
    if not params.securityhub:
        return "Security Hub import is off (securityhub: false)."
    if run_dir:
        return "Security Hub: `s3compliance run` imports once the run folder is published."
    from s3compliance.outputs.securityhub_import import import_report
    from s3compliance.scan.org_scanner import OrgScanner
    from s3compliance.scan.organizations import account_session

    region = params.securityhub_region or params.home_region
    own = scanner.clients.account_id(scanner.retry)

    def client_for(account_id: str) -> Any:
        if account_id == own or not isinstance(scanner, OrgScanner):
            return scanner.clients.client("securityhub", region)
        session = account_session(
            account_id, False, params, scanner.retry, scanner.session, scanner.hook
        )
        return Clients(session, params.endpoint_url).client("securityhub", region)

    report = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
    result = import_report(report, params, client_for, apply=True, retry=scanner.retry)
    print(result.summary())
    if result.outcome is not None and result.outcome.failures:
        raise NotebookStop(result.summary())
    return result.plan.table


def buckets_to_announce(result: ScanResult, params: Params) -> set[str] | None:
    """``notify_only_new``: the buckets high severity now that were not in the posture of the
    run folders before this run (``None``, every high bucket, when the option is off or there is
    no previous run); see :func:`s3compliance.outputs.history.buckets_to_announce`."""
    from s3compliance.outputs import history

    return history.buckets_to_announce(result, params.output_dir, params.notify_only_new)


def show_step(outcome: pd.DataFrame | str, caption: str) -> None:
    """A step's outcome: its table (interactive, every row), or the sentence saying it was off."""
    if isinstance(outcome, str):
        print(outcome)
        return
    from s3compliance.outputs.tables import show_table

    show_table(outcome, caption)


def show_cut(frame: pd.DataFrame, caption: str, params: Params) -> None:
    """A worst-first table with at most ``report_max_rows`` rows (its caption says what a cut
    left out)."""
    from s3compliance.outputs.tables import cut, show_table

    show_table(*cut(frame, caption, params.report_max_rows))


#: Where every row of a cut plan is: the program the run folder holds.
IN_PROGRAM = "every row is in the run folder's pulumi/ program"


class StoredRows(Protocol):
    """Plan rows read from disk (:class:`s3compliance.iac.plan_store.PlanStore` or a view of
    it; named by shape: the report does not import the Pulumi generator)."""

    def __len__(self) -> int: ...

    def head(self, rows: int) -> pd.DataFrame: ...


def show_plan(
    plan: pd.DataFrame | StoredRows | str,
    caption: str,
    params: Params,
    readable: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> None:
    """A Pulumi plan (by bucket), or the sentence saying the step is off: at most
    ``report_max_rows`` rows, made ``readable`` (or by the view's own ``readable``) after the
    cut. A plan of 100,000 buckets has half a million rows: the report reads and shows the
    first, the program holds them all."""
    if isinstance(plan, str):
        print(plan)
        return
    from s3compliance.outputs.tables import cut, show_table

    limit = params.report_max_rows
    if isinstance(plan, pd.DataFrame):
        shown, told = cut(plan, caption, limit, IN_PROGRAM, "by bucket")
    else:
        readable = getattr(plan, "readable", None) or readable
        shown, told = cut(plan.head(limit), caption, limit, IN_PROGRAM, "by bucket", len(plan))
    show_table(readable(shown) if readable else shown, told)


def show_findings(result: ScanResult, params: Params) -> None:
    """Every finding, worst first (FAIL, ERROR, PASS; critical first); past ``report_max_rows``
    findings, the FAIL and ERROR ones worst first
    (cut at that size too) and the PASS ones counted per check, account and region."""
    from s3compliance.outputs.report import findings_table, pass_summary, worst_first
    from s3compliance.outputs.tables import show_table

    if result.finding_count <= params.report_max_rows:
        show_table(worst_first(findings_table(result)), "Every finding, worst first")
        return
    open_rows = worst_first(findings_table(result, ["FAIL", "ERROR"]))
    show_cut(open_rows, "Every FAIL and ERROR finding", params)
    passed = result.finding_count - len(open_rows)
    show_table(
        pass_summary(result),
        f"PASS findings ({passed:,}), counted per check, account and region",
    )


def show_accounts(result: ScanResult) -> None:
    """The notebook's "Accounts" section: per-account table worst first and the accounts that
    could not be scanned (an organization run; one line for a single account)."""
    if not result.organization:
        print(
            f"One account: {result.account_id} (accounts: null). Set accounts: organization to "
            "scan every account of the organization (docs/tasks/organizations.md)."
        )
        return
    from s3compliance.outputs.report import accounts_table, failed_accounts_table
    from s3compliance.outputs.tables import show_table

    # seconds vary from run to run: they are in findings.json, not in the notebook
    show_table(accounts_table(result).drop(columns=["seconds"]), "Accounts, worst first")
    failed = failed_accounts_table(result)
    if len(failed):
        print(f"INCOMPLETE: {len(failed)} account(s) could not be scanned, or not completely:")
        show_table(failed, "Accounts that could not be scanned")
    else:
        print("Every listed account was scanned.")


def show_exceptions(result: ScanResult) -> pd.DataFrame | None:
    """The notebook's "Accepted risks" section: one line of counts, then every exception of the
    file with its state, owner, reason, end date and the findings it covers (a sentence when
    the run applied no file)."""
    if result.exceptions is None:
        print(
            "No exceptions file (parameter exceptions_file): nothing is accepted, every FAIL "
            "counts. docs/tasks/accepted-risks.md shows the format."
        )
        return None
    from s3compliance.outputs.report import exceptions_table
    from s3compliance.outputs.tables import show_table

    table = exceptions_table(result)
    summary = result.summary()
    states = table["state"].value_counts()
    print(
        f"{summary['accepted_buckets']} bucket(s) accepted, {summary['accepted_findings']} "
        f"FAIL finding(s) covered, judged on {result.exceptions.run_date.isoformat()}; "
        + ", ".join(
            f"{int(states.get(s, 0))} {s}" for s in ("expired", "unused", "expiring", "active")
        )
        + f" (file sha256 {result.exceptions.sha256[:16]}...)"
    )
    show_table(table, "Accepted risks: every exception, expired and unused first")
    return table


def changes_since_last_run(result: ScanResult, params: Params) -> pd.DataFrame:
    """What changed against the last complete run in ``output_dir`` (its ``note`` says why
    nothing can be compared, e.g. on a first run): the headline counts it, the "Since the last
    run" section lists it."""
    from s3compliance.outputs import history

    return history.changes(current=result, output_dir=params.output_dir)


def run_name(params: Params, published_dir: str = "") -> str:
    """The run folder's name as the report shows it: the folder ``s3compliance run`` publishes
    to, else ``run_id``, else a note that it is named when the run folder is written."""
    if published_dir:
        return Path(published_dir).name
    return params.run_id or "(named when the run folder is written)"


def show_headline(
    result: ScanResult,
    params: Params,
    changes: pd.DataFrame,
    run_date: str,
    published_dir: str = "",
) -> Headline:
    """The report's first output: who and when, how bad, what changed, the worst buckets."""
    from IPython.display import HTML, display

    head = headline(result, params, changes, run_name(params, published_dir), run_date)
    display(HTML(headline_html(head)))
    return head


def show_worst(head: Headline) -> None:
    """The worst buckets as a plain table whose rows the headline links to."""
    from IPython.display import HTML, display

    display(HTML(worst_table_html(head)))


def show_changes(
    result: ScanResult, params: Params, changed: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The notebook's "Since the last run" section: counts per kind and every change but the
    persisting ones, against the last complete run in ``output_dir`` (the sentence saying there
    is none on a first run). ``changed``: :func:`changes_since_last_run`, already computed."""
    from s3compliance.outputs.history import CHANGE_KINDS
    from s3compliance.outputs.tables import show_table

    if changed is None:
        changed = changes_since_last_run(result, params)
    attrs = changed.attrs
    if attrs["note"]:
        print(attrs["note"])
        return changed
    counts = changed["kind"].value_counts()
    told = ", ".join(f"{int(counts.get(k, 0))} {k}" for k in CHANGE_KINDS)
    print(f"Since run {attrs['previous']}: {told}.")
    print(f"Checks compared (both runs ran them): {', '.join(attrs['checks'])}.")
    if attrs["carried_forward"]:
        print(
            "Not scanned this time, previous findings carried forward: "
            + ", ".join(attrs["carried_forward"])
        )
    shown = changed[changed["kind"] != "persisting"].drop(columns=["finding_id"])
    show_table(shown, "Changes since the last run")
    return changed


def trend_step(
    figures: dict[str, Figure], result: ScanResult, params: Params, run_date: str
) -> Figure | None:
    """The notebook's "Trend" chart (saved as ``trend.png`` with the others): the last 90 days
    of runs in ``output_dir`` and this one; a sentence instead on a first run."""
    from s3compliance.outputs import history
    from s3compliance.outputs.charts import trend_chart

    trend = history.trend(params.output_dir, "check", 90, current=result)
    if trend["run_date"].nunique() < 2:
        print("first run: no history yet (the trend appears from the second run date)")
        return None
    figures["trend"] = trend_chart(trend, result, run_date)
    return figures["trend"]


def published_folder(folder: Path, published_dir: str = "") -> Path:
    """The run folder a reader will find: where ``s3compliance run`` publishes the staging
    folder the notebook wrote into, else the folder itself."""
    return Path(published_dir) if published_dir else Path(folder)
