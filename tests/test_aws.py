"""Clients: one per service and region, one retry layer, custom endpoints, the recorder."""

from __future__ import annotations

import boto3

from s3compliance.scan.aws import Clients, _strip_account_prefix, error_code, make_session


def test_clients_are_built_once_per_service_and_region() -> None:
    clients = Clients(boto3.Session(region_name="us-east-1"), max_workers=32)
    assert clients.s3("eu-west-1") is clients.s3("eu-west-1")
    assert clients.s3("eu-west-1") is not clients.s3("us-east-1")
    assert clients.s3("eu-west-1").meta.region_name == "eu-west-1"
    config = clients.s3().meta.config
    assert config.retries["total_max_attempts"] == 1  # tenacity is the one retry layer
    assert config.max_pool_connections == 32


def test_endpoint_from_parameter_or_environment(monkeypatch) -> None:
    assert Clients(endpoint_url="http://127.0.0.1:9").s3().meta.endpoint_url == "http://127.0.0.1:9"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:8")
    assert Clients().endpoint_url == "http://127.0.0.1:8"


def test_s3control_account_prefix_is_stripped_on_a_custom_endpoint(moto_server) -> None:
    clients = Clients(
        boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1"),
        endpoint_url=moto_server,
    )
    seen: list[str] = []
    control = clients.s3control()
    control.meta.events.register(
        "before-send.s3-control", lambda request, **_: seen.append(request.url)
    )
    control.put_public_access_block(
        AccountId="123456789012",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    got = control.get_public_access_block(AccountId="123456789012")
    assert got["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    assert all(url.startswith(moto_server) for url in seen)


def test_strip_account_prefix_leaves_other_hosts_alone() -> None:
    class Request:
        url = "https://s3-control.us-east-1.amazonaws.com/v20180820/configuration/publicAccessBlock"

    request = Request()
    _strip_account_prefix(request)
    assert request.url == Request.url
    request.url = "http://123456789012.localhost:5000/v20180820/x"
    _strip_account_prefix(request)
    assert request.url == "http://localhost:5000/v20180820/x"


def test_error_code_of_non_aws_errors() -> None:
    assert error_code(ValueError("x")) == "ValueError"


def test_make_session_with_and_without_profile(tmp_path, monkeypatch) -> None:
    config = tmp_path / "config"
    config.write_text("[profile audit]\nregion = eu-west-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert make_session("audit").region_name == "eu-west-2"
    assert make_session(None).profile_name == "default"


def test_get_caller_identity_goes_through_the_retry_policy() -> None:
    """Issue 10, 6: one throttled GetCallerIdentity must not leave the account id unknown."""
    from botocore.stub import Stubber

    from s3compliance.scan.retry import RetryPolicy

    clients = Clients(boto3.Session(region_name="us-east-1"))
    retry = RetryPolicy(3, 0, sleep=lambda _s: None)
    with Stubber(clients.sts()) as stub:
        stub.add_client_error("get_caller_identity", "Throttling", http_status_code=400)
        stub.add_response(
            "get_caller_identity",
            {
                "Account": "123456789012",
                "UserId": "AIDA",
                "Arn": "arn:aws:iam::123456789012:user/u",
            },
        )
        assert clients.account_id(retry) == "123456789012"
    assert retry.counter.count == 1
    with Stubber(clients.sts()) as stub:
        stub.add_client_error("get_caller_identity", "AccessDenied", http_status_code=403)
        assert clients.account_id(retry) == "unknown"
