"""Charts are tested by their data (bar heights, labels, matrix), not by pixels."""

from __future__ import annotations

from dataclasses import replace

import pytest

from s3compliance.outputs import charts
from s3compliance.scan.spool import FindingSpool
from s3compliance.testing.demo import demo_params, run_demo

RUN_DATE = "2026-01-01"


@pytest.fixture(scope="module")
def demo():
    return run_demo(demo_params(max_workers=8), progress=False)


def bars(fig) -> list[float]:
    return [p.get_height() for p in fig.axes[0].patches]


def test_status_chart_bars_and_labels(demo) -> None:
    fig = charts.status_chart(demo, RUN_DATE)
    assert bars(fig) == [58, 78, 2]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["compliant", "non-compliant", "unknown"]
    assert ax.get_ylabel() == "buckets" and ax.get_xlabel() == "compliance status"
    assert fig.get_suptitle() == "Bucket compliance (138 buckets)"
    assert ax.get_title() == "account 123456789012 · us-east-1 · 2026-01-01"
    assert [t.get_text() for t in ax.texts] == ["58", "78", "2"]


def test_failures_chart_counts_fail_and_error_per_check(demo) -> None:
    data = charts.failures_by_check(demo)
    assert data.to_dict() == {
        "FAIL": {
            "versioning": 22,
            "encryption": 14,
            "lifecycle": 26,
            "public_access": 23,
            "cloudwatch_metrics": 23,
        },
        "ERROR": {
            "versioning": 0,
            "encryption": 0,
            "lifecycle": 0,
            "public_access": 2,
            "cloudwatch_metrics": 0,
        },
    }
    fig = charts.failures_chart(demo, RUN_DATE)
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert widths[:5] == [23, 23, 26, 14, 22]  # FAIL bars, first check on top
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "versioning"
    assert "+2 error" in [t.get_text() for t in ax.texts]
    assert ax.get_xlim()[1] > 26


def test_heatmap_shows_the_worst_buckets_first(demo) -> None:
    matrix = charts.heatmap_matrix(demo, 10)
    assert len(matrix) == 10
    assert matrix.index[:2].tolist() == ["demo-public-bare-01", "demo-public-bare-02"]
    assert matrix.loc["demo-public-bare-01"].tolist() == [1, 1, 1, 1, 1]
    assert matrix.columns.tolist() == [
        "versioning",
        "encryption",
        "lifecycle",
        "public_access",
        "cloudwatch_metrics",
    ]
    all_rows = charts.heatmap_matrix(demo, 500)
    assert len(all_rows) == 80  # every bucket with a violation or an error, no compliant one
    assert all_rows.loc["demo-restricted-01", "public_access"] == 2
    fig = charts.heatmap_chart(demo, RUN_DATE, top_n=10)
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (10, 5)
    assert fig.get_suptitle() == "Check results, 10 worst of 138 buckets"
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["PASS", "FAIL", "ERROR"]


def test_heatmap_of_a_fully_compliant_fleet_is_empty_not_broken(demo) -> None:
    buckets = demo.buckets[demo.buckets["status"] == "compliant"]
    findings = demo.findings[demo.findings["bucket"].str.startswith("demo-compliant")]
    clean = replace(demo, buckets=buckets, spool=FindingSpool.of(findings, len(buckets)))
    assert charts.heatmap_matrix(clean, 30).empty
    assert charts.heatmap_chart(clean, RUN_DATE).get_suptitle().startswith("Check results, 0 worst")
    widths = [p.get_width() for p in charts.failures_chart(clean, RUN_DATE).axes[0].patches]
    assert widths == [0] * 10


def test_severity_chart(demo) -> None:
    assert charts.severity_counts(demo).to_dict() == {"high": 8, "medium": 4, "low": 66, "none": 60}
    assert bars(charts.severity_chart(demo, RUN_DATE)) == [8, 4, 66, 60]


def test_framework_chart_shows_pass_rates_per_control(demo) -> None:
    fig = charts.framework_chart(demo, RUN_DATE)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "AWS-FSBP S3.2" and "AWS-FSBP S3.14" in labels
    widths = dict(zip(labels, [p.get_width() for p in ax.patches], strict=True))
    assert widths["AWS-FSBP S3.14"] == pytest.approx(116 / 138 * 100, abs=0.1)
    assert "116/138" in [t.get_text() for t in ax.texts]


def test_all_charts_saved_as_png(demo, tmp_path) -> None:
    figures = charts.all_charts(demo, RUN_DATE, 30)
    paths = charts.save_charts(figures, tmp_path)
    assert [p.name for p in paths] == [
        "status.png",
        "failures_by_check.png",
        "heatmap.png",
        "severity.png",
        "frameworks.png",
    ]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
