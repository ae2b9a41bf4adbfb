"""AWS list prices the cost model (section 10) uses: one table, one region, one date.

us-east-1 (N. Virginia), on-demand list prices as published on the services' pricing pages,
taken 2025-11-15 (the latest the author could check; re-check them before relying on the
dollar figures: the ratios between the parts change less than the prices). No free tier, no
savings plan, no reserved capacity; the first pricing tier of each (100 requests/s sustained is
259.2 M requests a month, inside HTTP API's first 300 M and Lambda's first 7.5 B GB-s)."""

from __future__ import annotations

REGION = "us-east-1"
PRICES_DATE = "2025-11-15"
REQUESTS_PER_SECOND = 100
SECONDS_PER_MONTH = 30 * 24 * 3600
REQUESTS_PER_MONTH = REQUESTS_PER_SECOND * SECONDS_PER_MONTH

# name: (USD, unit, what it prices)
PRICES: dict[str, tuple[float, str, str]] = {
    "http_api_request": (1.00e-6, "request", "API Gateway HTTP API, first 300 M requests/month, per 512 KB"),
    "lambda_request": (0.20e-6, "request", "Lambda requests"),
    "lambda_arm64_gb_s": (0.0000133334, "GB-s", "Lambda duration, arm64, first 7.5 B GB-s/month, billed per ms"),
    "dynamodb_rru": (0.125e-6, "read request unit", "DynamoDB on-demand: 4 KB strongly consistent, 2 reads eventual"),
    "dynamodb_wru": (0.625e-6, "write request unit", "DynamoDB on-demand: 1 KB written (transactions: 2)"),
    "logs_ingested_gb": (0.50, "GB", "CloudWatch Logs ingestion (Lambda logs, first 10 TB); +26 bytes per event"),
    "xray_trace": (5.00e-6, "trace recorded", "X-Ray traces recorded"),
    "metric_month": (0.30, "metric-month", "CloudWatch custom metric (first 10,000); EMF lines are log bytes too"),
    "cloudfront_https_request": (1.00e-6, "request", "CloudFront HTTPS requests, US/Europe ($0.0100 per 10,000)"),
    "cloudfront_gb_out": (0.085, "GB", "CloudFront data transfer out, US/Europe, first 10 TB"),
    "internet_gb_out": (0.09, "GB", "data transfer out to the internet from the region, first 10 TB"),
}

# X-Ray's default sampling rule: the first request each second, then 5% of the others.
XRAY_RESERVOIR_PER_SECOND = 1
XRAY_FIXED_RATE = 0.05
# CloudWatch Logs bills each event's message in UTF-8 plus this.
LOG_EVENT_OVERHEAD_BYTES = 26
# Lambda gives one full vCPU at 1,769 MB and CPU in proportion below it.
FULL_VCPU_MB = 1769


def price(name: str) -> float:
    return PRICES[name][0]


def xray_sampled_share(rate_per_second: float = REQUESTS_PER_SECOND) -> float:
    if rate_per_second <= 0:
        return 0.0
    sampled = min(rate_per_second, XRAY_RESERVOIR_PER_SECOND) + XRAY_FIXED_RATE * max(
        0.0, rate_per_second - XRAY_RESERVOIR_PER_SECOND
    )
    return sampled / rate_per_second
