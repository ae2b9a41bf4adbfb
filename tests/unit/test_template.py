"""template.yaml is the single source of truth: check what the code relies on."""

import copy
import json
from pathlib import Path

import pytest

from local_runtime.resources import table_definitions
from local_runtime.template import ROOT, local_stack

STACK = local_stack()


def test_every_route_is_declared_with_and_without_trailing_slash() -> None:
    keys = {(r.method, r.path) for r in STACK.routes()}
    for method, path in list(keys):
        twin = path[:-1] if path.endswith("/") else path + "/"
        assert (method, twin) in keys, f"{method} {path} lacks its trailing-slash twin"


def test_one_variable_name_per_path_position() -> None:
    """API Gateway refuses two names for one variable under the same parent path."""
    names: dict[tuple[str, ...], set[str]] = {}
    for route in STACK.routes():
        segments = route.path.strip("/").split("/")
        for i, segment in enumerate(segments):
            if segment.startswith("{"):
                parent = tuple("{}" if s.startswith("{") else s for s in segments[:i])
                names.setdefault(parent, set()).add(segment)
    assert all(len(v) == 1 for v in names.values()), names


def test_functions_have_code_and_events() -> None:
    events = {p.name for p in (ROOT / "events").glob("*.json")}
    for logical, fn in STACK.functions().items():
        assert (fn.code_uri / "app.py").is_file(), logical
        folder = fn.code_uri.name
        assert any(e.startswith(folder + "_") for e in events), f"no events/ file for {logical}"


def test_events_are_valid_http_api_v2_payloads() -> None:
    for path in (ROOT / "events").glob("*.json"):
        event = json.loads(Path(path).read_text())
        if "Records" in event:  # a trigger's event
            assert all(r["eventSource"] in ("aws:s3", "aws:dynamodb") for r in event["Records"]), path
            continue
        if event.get("detail-type") == "Scheduled Event":
            continue
        assert event["version"] == "2.0" and "rawPath" in event and "requestContext" in event, path


def test_tables_have_the_keys_and_ttl_the_code_uses() -> None:
    tables = table_definitions(STACK)
    catalogue = tables["CatalogueTable"]["create"]
    assert {k["AttributeName"] for k in catalogue["KeySchema"]} == {"pk", "sk"}
    assert {i["IndexName"] for i in catalogue["GlobalSecondaryIndexes"]} >= {"gsi1", "gsi2", "gsi3", "by_image"}
    assert catalogue["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    for name in ("CacheTable", "SessionsTable"):
        assert tables[name]["ttl"] == {"AttributeName": "expires_at", "Enabled": True}


def test_layer_is_built_by_sam_and_used_by_every_function() -> None:
    layer = STACK.resources["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"].startswith("python3")
    assert (ROOT / layer["Properties"]["ContentUri"] / "albums_core" / "__init__.py").is_file()
    assert STACK.raw["Globals"]["Function"]["Layers"] == [{"Ref": "SharedLayer"}]


def test_each_function_has_its_own_policies() -> None:
    for logical, res in STACK.of_type("AWS::Serverless::Function").items():
        assert res["Properties"].get("Policies"), logical


# ---- API Gateway as deployed: the stage ------------------------------------------------------


def test_the_api_is_served_on_the_named_stage_its_url_names() -> None:
    from local_runtime.gateway import ApiSettings

    settings = ApiSettings.from_stack(STACK)
    assert settings.stage == STACK.parameters["Stage"] == "dev"
    assert settings.prefix == "/dev"
    assert STACK.raw["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"].endswith("/${Stage}")


def test_api_functions_finish_within_their_integration_timeout() -> None:
    """HTTP API stops waiting after 30 s (or the route's TimeoutInMillis) and answers 503."""
    functions = STACK.functions()
    for route in STACK.routes():
        assert route.timeout_ms <= 30000, route
        assert functions[route.function].timeout * 1000 < route.timeout_ms, route


# ---- credentialed CORS and the session cookie ------------------------------------------------


def test_cors_is_credentialed_for_listed_origins() -> None:
    cors = STACK.resolve(STACK.resources["HttpApi"]["Properties"]["CorsConfiguration"])
    assert cors["AllowCredentials"] is True
    assert STACK.raw["Parameters"]["AllowedOrigins"]["Type"] == "CommaDelimitedList"
    assert isinstance(cors["AllowOrigins"], list) and cors["AllowOrigins"]
    for origin in cors["AllowOrigins"]:
        assert origin != "*" and not origin.endswith("/"), origin
    methods = {r.method for r in STACK.routes()}
    assert set(cors["AllowMethods"]) == methods, "exactly the methods the routes use"
    assert {h.lower() for h in cors["AllowHeaders"]} == {"content-type", "authorization", "if-match", "if-none-match"}
    # A frontend on another origin reads the tag it sends back as If-Match / If-None-Match.
    assert cors["ExposeHeaders"] == ["ETag"]


def test_several_allowed_origins_stay_a_list() -> None:
    stack = local_stack(overrides={"AllowedOrigins": "https://plyr.fm, https://app.example"})
    cors = stack.resolve(stack.resources["HttpApi"]["Properties"]["CorsConfiguration"])
    assert cors["AllowOrigins"] == ["https://plyr.fm", "https://app.example"]


def test_session_cookie_attributes_are_deployment_parameters() -> None:
    env = STACK.functions()["AuthLoginFunction"].environment
    assert env["SESSION_COOKIE_SAMESITE"] == "Lax" and env["SESSION_COOKIE_DOMAIN"] == ""
    assert STACK.raw["Parameters"]["SessionCookieSameSite"]["AllowedValues"] == ["Lax", "Strict", "None"]
    other = local_stack(overrides={"SessionCookieSameSite": "None", "SessionCookieDomain": "plyr.fm"})
    env = other.functions()["AuthLogoutFunction"].environment
    assert env["SESSION_COOKIE_SAMESITE"] == "None" and env["SESSION_COOKIE_DOMAIN"] == "plyr.fm"


# ---- covers through CloudFront ---------------------------------------------------------------


def test_covers_are_public_through_cloudfront_only() -> None:
    bucket = STACK.resources["CoversBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values()), "the bucket stays private"
    dist = STACK.resources["CoversDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = dist["Origins"]
    bucket_name = STACK.resolve(bucket["BucketName"])
    assert STACK.resolve(origin["DomainName"]) == f"{bucket_name}.s3.{STACK.region}.amazonaws.com"
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["CoversOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    oac = STACK.resources["CoversOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )
    policy = STACK.resources["CoversBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "CoversBucket"}
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == "s3:GetObject"
    assert STACK.resolve(statement["Resource"]) == f"arn:aws:s3:::{bucket_name}/images/*", "uploads stay private"
    source = STACK.resolve(statement["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert source == f"arn:aws:cloudfront::123456789012:distribution/{STACK.physical['CoversDistribution']}"


def test_cover_urls_are_on_the_distribution_unless_a_base_url_is_given() -> None:
    env = STACK.functions()["UploadAlbumCoverFunction"].environment
    assert env["COVERS_BASE_URL"] == "https://" + STACK.resolve({"Fn::GetAtt": ["CoversDistribution", "DomainName"]})
    assert "s3." not in env["COVERS_BASE_URL"]
    given = local_stack(overrides={"CoversBaseUrl": "https://covers.plyr.fm"})
    assert given.functions()["UploadAlbumCoverFunction"].environment["COVERS_BASE_URL"] == "https://covers.plyr.fm"


def test_covers_are_cached_for_a_year_as_immutable() -> None:
    from albums_core.adapters import s3_covers
    from local_runtime import gateway

    dist = STACK.resources["CoversDistribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    assert dist["CachePolicyId"] == {"Ref": "CoversCachePolicy"}
    assert dist["ResponseHeadersPolicyId"] == {"Ref": "CoversResponseHeadersPolicy"}
    assert set(dist["AllowedMethods"]) == {"GET", "HEAD"}
    cache = STACK.resources["CoversCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert cache["MinTTL"] == cache["DefaultTTL"] == cache["MaxTTL"] == 31536000
    headers = STACK.resources["CoversResponseHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    (item,) = headers["CustomHeadersConfig"]["Items"]
    assert item["Header"] == "Cache-Control" and item["Override"] is True
    # The same value on the stored objects, on the distribution and on the local gateway.
    assert item["Value"] == s3_covers._IMMUTABLE == gateway.IMMUTABLE == "public, max-age=31536000, immutable"


# ---- asynchronous failures -------------------------------------------------------------------


def test_asynchronously_invoked_functions_keep_their_failures() -> None:
    async_functions = {
        logical
        for logical, res in STACK.of_type("AWS::Serverless::Function").items()
        if any(e["Type"] in ("S3", "Schedule", "SNS", "EventBridgeRule") for e in res["Properties"]["Events"].values())
    }
    assert async_functions == {"ProcessCoverUploadFunction", "SweepFunction", "ConsumeFirehoseFunction"}
    for logical in async_functions:
        props = STACK.resources[logical]["Properties"]
        config = STACK.resolve(props["EventInvokeConfig"])
        assert 0 <= int(config["MaximumRetryAttempts"]) <= 2, logical
        on_failure = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
        assert on_failure["Type"] == "SQS"
        queue = on_failure["Destination"]["Fn::GetAtt"][0]
        assert STACK.resources[queue]["Type"] == "AWS::SQS::Queue", logical


def test_sam_grants_each_async_function_its_on_failure_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lambda sends the failure record with the function's role: SAM adds sqs:SendMessage on the
    destination (and only there) for an EventInvokeConfig destination of Type SQS."""
    from samtranslator.translator.transform import transform

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    document = copy.deepcopy(STACK.raw)
    for resource in document["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = "s3://bucket/key"  # what `sam package` puts there

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    resources = transform(document, {}, NoManagedPolicies())["Resources"]
    for function in ("ProcessCoverUploadFunction", "SweepFunction"):
        config = resources[f"{function}EventInvokeConfig"]["Properties"]
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["AsyncFailureQueue", "Arn"]}
        sends = [
            statement
            for policy in resources[f"{function}Role"]["Properties"]["Policies"]
            for statement in policy["PolicyDocument"]["Statement"]
            if "sqs:SendMessage" in statement["Action"]
        ]
        assert sends == [
            {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": {"Fn::GetAtt": ["AsyncFailureQueue", "Arn"]}}
        ]


# ---- the web app's defaults (issue 19: local sign-in with no setting) ---------------------------


def test_the_default_frontend_is_on_the_local_apis_site_and_an_allowed_origin() -> None:
    from urllib.parse import urlsplit

    from local_runtime.stack import web_app_parameters

    frontend = STACK.parameters["FrontendUrl"]
    # The loopback OAuth client's API is on 127.0.0.1: a frontend there gets a first-party cookie.
    assert frontend == "http://127.0.0.1:5173" and urlsplit(frontend).hostname == "127.0.0.1"
    assert frontend in STACK.resolve({"Ref": "AllowedOrigins"})
    assert web_app_parameters(None, None) == {
        "FrontendUrl": "http://127.0.0.1:5173",
        "AllowedOrigins": "http://127.0.0.1:5173,http://localhost:5173",
    }


def test_make_run_takes_a_frontend_and_allowed_origins() -> None:
    from local_runtime.stack import web_app_parameters

    alone = web_app_parameters("https://app.example.com/", None)
    assert alone["FrontendUrl"] == "https://app.example.com"
    assert alone["AllowedOrigins"].split(",") == [
        "http://127.0.0.1:5173",
        "http://localhost:5173",
        "https://app.example.com",
    ]
    both = web_app_parameters("http://127.0.0.1:4000", ["http://127.0.0.1:4000", "https://x.example"])
    assert both == {"FrontendUrl": "http://127.0.0.1:4000", "AllowedOrigins": "http://127.0.0.1:4000,https://x.example"}
    for frontend, origins in [
        ("ftp://x.example", None),
        ("not a url", None),
        ("http://x.example/?a=1", None),
        (None, ["*"]),
        (None, ["http://x.example/"]),
        (None, ["x.example"]),
    ]:
        with pytest.raises(SystemExit):
            web_app_parameters(frontend, origins)
    assert "FRONTEND_URL=" in (ROOT / "Makefile").read_text() and "ALLOWED_ORIGINS=" in (ROOT / "README.md").read_text()


# The hot read path (bench section 10: a cached read within 1.40 USD per million).
READ_PATH = ("ListAlbumsFunction", "ListArtistAlbumsFunction", "GetAlbumFunction", "GetArtistFunction")


def test_the_read_path_is_not_traced_unless_the_operator_turns_it_on() -> None:
    stack = local_stack()
    assert stack.raw["Parameters"]["ReadPathTracing"]["Default"] == "PassThrough"
    assert stack.raw["Globals"]["Function"]["Tracing"] == "Active"
    for logical, res in stack.of_type("AWS::Serverless::Function").items():
        tracing = res["Properties"].get("Tracing")
        if logical in READ_PATH:
            assert tracing == {"Ref": "ReadPathTracing"}, logical
        else:
            assert tracing is None, f"{logical}: traced as the Globals say"
    assert local_stack(overrides={"ReadPathTracing": "Active"}).resolve({"Ref": "ReadPathTracing"}) == "Active"


def test_lambdas_own_log_lines_are_off_by_default_and_the_function_logs_at_info() -> None:
    stack = local_stack()
    config = stack.raw["Globals"]["Function"]["LoggingConfig"]
    assert config["SystemLogLevel"] == {"Ref": "SystemLogLevel"}
    assert stack.raw["Parameters"]["SystemLogLevel"]["Default"] == "WARN"
    # Embedded metrics carry no level: Lambda's application filter must let INFO through.
    assert config["ApplicationLogLevel"] == "INFO"
    for logical, res in stack.of_type("AWS::Serverless::Function").items():
        assert "LoggingConfig" not in res["Properties"], logical
