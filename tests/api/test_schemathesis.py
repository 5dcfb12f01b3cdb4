"""Schemathesis drives the API from its own OpenAPI document, on a real port, as two tenants.

Every phase runs (the document's examples, boundary coverage, random fuzzing, and stateful
sequences that follow the document's links from a create to its member operations), with
every check but two (below): no 5xx, responses (status, headers, body) match the document,
invalid input is refused with a 4xx, and no tenant can read what another tenant's token created
(object_level_authorization, from the two identities in the auth file). The run is bounded
by time (CRM_SCHEMATHESIS_SECONDS, 90 by default)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ST = Path(sys.executable).with_name("st")


def test_the_api_holds_under_schemathesis(live_server, tenant_a, tenant_b, tmp_path):
    auth_file = tmp_path / "tenants.json"
    auth_file.write_text(json.dumps({"auth": [
        {"name": "tenant-a", "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {tenant_a.token}"}]},
        {"name": "tenant-b", "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {tenant_b.token}"}]},
    ]}))
    # A body over MAX_CONTENT_LENGTH is refused with 413 before it is read: a rejection like
    # any 4xx, which negative_data_rejection does not list by default.
    config = tmp_path / "schemathesis.toml"
    # Every check but two (why below); for one upload, the multipart form cannot say "an array
    # where a string goes": an empty array is sent as no field at all, a valid upload without
    # alt text. A check turned off for one operation holds only when the command line does not
    # name the checks (the command line wins).
    config.write_text('[checks]\npositive_data_acceptance.enabled = false\n'
                      'ensure_resource_availability.enabled = false\n'
                      '[checks.negative_data_rejection]\nexpected-statuses = ["400", "401", "403", "404", "405", '
                      '"406", "409", "413", "415", "422", "428", "429", "5xx"]\n'
                      '\n[[operations]]\ninclude-path = "/api/crm/assets"\ninclude-method = "POST"\n'
                      'checks.negative_data_rejection.enabled = false\n'
                      # The batch routes answer a schema-violating *item* in its own result (its 4xx
                      # beside the others' 201s), so the request as a whole is rightly a 200.
                      '\n[[operations]]\ninclude-path = "/api/crm/activities/batch"\ninclude-method = "POST"\n'
                      'checks.negative_data_rejection.enabled = false\n'
                      '\n[[operations]]\ninclude-path = "/api/crm/customers/batch"\ninclude-method = "POST"\n'
                      'checks.negative_data_rejection.enabled = false\n')
    seconds = os.environ.get("CRM_SCHEMATHESIS_SECONDS", "90")
    report = tmp_path / "report"
    # One worker: with two, CPython 3.11's ast module (used by Hypothesis to describe
    # lambdas) failed now and then with "AST constructor recursion depth mismatch".
    # Two checks are left out. positive_data_acceptance: some rules cannot be written in the
    # document (a cursor must be one this list returned, send_at must be in the future,
    # integer ids are refused as 1.0 by strict parsing), so schema-valid input may rightly
    # get a 422. ensure_resource_availability: it reads any 404 after a create as "the new
    # resource is missing", but a 404 from, say, a preview names the *customer* in the body
    # (another tenant's, or none), which is our rule for ids of things one cannot see.
    command = [str(ST), "--config-file", str(config), "run", f"{live_server}/api/crm/openapi.json",
               "--auth-wfc", str(auth_file), "--max-time", seconds, "--workers", "1",
               "--phases", "examples,coverage,fuzzing,stateful", "--request-timeout", "10",
               "--generation-database", "none", "--seed", "20261124",
               "--report", "junit", "--report-dir", str(report), "--no-color"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=int(seconds) * 3 + 120,
                            env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    output = result.stdout + result.stderr
    if os.environ.get("CRM_SCHEMATHESIS_LOG"):
        Path(os.environ["CRM_SCHEMATHESIS_LOG"]).write_text(output)
    failures = output[output.find("FAILURES"):] if "FAILURES" in output else output
    assert result.returncode == 0, failures[:20000]
    assert "operations" in output.lower(), output[-3000:]
