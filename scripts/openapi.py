#!/usr/bin/env python3
# Writes Sources/NovaServer/openapi.json: python3 scripts/openapi.py > Sources/NovaServer/openapi.json
import json
PRJ = {"type": "string", "pattern": "^prj_[0-9a-f]{8}$"}
AGT = {"type": "string", "pattern": "^agt_[0-9a-f]{12}$"}
money = {"type": "number"}
nullable = lambda s: {"anyOf": [s, {"type": "null"}]}
def obj(props, required=None, extra=True):
    o = {"type": "object", "properties": props}
    o["required"] = required if required is not None else list(props.keys())
    if not extra: o["additionalProperties"] = False
    return o
err = {"$ref": "#/components/schemas/Error"}
def errors(*codes):
    names = {"400": "Invalid input", "401": "No valid token", "404": "Unknown ID or route", "409": "Refused by state",
             "413": "Body too large", "422": "Nothing committed", "503": "Database busy past the timeout",
             "429": "Too many jobs queued or running",
             "403": "Refused: a cross-site request, or a run outside the sandbox the server does not allow", "415": "The body is not JSON"}
    return {c: {"description": names[c], "content": {"application/json": {"schema": err}}} for c in codes}
def ok(schema, code="200", desc="Success"):
    return {code: {"description": desc, "content": {"application/json": {"schema": schema}}}}
def ref(name): return {"$ref": "#/components/schemas/" + name}
def body(schema, required=True):
    return {"required": required, "content": {"application/json": {"schema": schema}}}
def envelope(schema): return obj({"status": {"const": "success"}, "data": schema})

metrics = obj({k: {"type": "integer"} for k in ["total_agents", "active_agents", "tokens_used"]} |
              {"total_cost": money, "total_revenue": money, "profit": money, "roi": {"type": "number"}})
agent = obj({"id": AGT, "project_id": PRJ, "type": {"type": "string"}, "name": {"type": "string"},
             "status": {"enum": ["active", "paused", "killed"]}, "pause_reason": nullable({"enum": ["manual", "budget_exceeded", "project_budget_exceeded"]}),
             "token_budget": {"type": "integer"}, "budget_used_percent": {"type": "number"}, "config": {},
             "deployed_at": {"type": "string"}, "tokens_used": {"type": "integer"}, "total_cost": money, "total_revenue": money,
             "profit": money, "roi": {"type": "number"}})
project = obj({"id": PRJ, "name": {"type": "string"}, "description": {"type": "string"}, "status": {"enum": ["active", "promoted", "killed"]},
               "workspace": {"type": "string"}, "created_at": {"type": "string"}, "promoted_at": nullable({"type": "string"}),
               "killed_at": nullable({"type": "string"}), "budget": nullable(money), "expires_at": nullable({"type": "string"}),
               "delete_on_expiry": {"type": "boolean"}, "kill_reason": nullable({"enum": ["manual", "expired"]})})
summary = obj({"id": PRJ, "name": {"type": "string"}, "description": {"type": "string"}, "status": {"enum": ["active", "promoted", "killed"]},
               "created_at": {"type": "string"}, "metrics": ref("Metrics"), "budget": nullable(money), "budget_used_percent": nullable({"type": "number"}),
               "expires_at": nullable({"type": "string"}), "kill_reason": nullable({"enum": ["manual", "expired"]})})
detail = obj({"id": PRJ, "name": {"type": "string"}, "status": {"enum": ["active", "promoted", "killed"]}, "metrics": ref("Metrics"),
              "agents": {"type": "array", "items": ref("Agent")}, "experiments": {"type": "array"}, "runs": {"type": "array"},
              "repositories": {"type": "array"}, "promotion_pending": {"type": "boolean"}})
experiment = obj({"id": {"type": "integer"}, "project_id": PRJ, "name": {"type": "string"}, "hypothesis": {"type": "string"},
                  "config": {}, "results": {}, "success": nullable({"type": "boolean"}), "started_at": {"type": "string"},
                  "completed_at": nullable({"type": "string"})})
usage = obj({"id": {"type": "integer"}, "agent_id": AGT, "model": {"type": "string"}, "cost": money, "total_tokens": {"type": "integer"},
             "recorded_at": {"type": "string"}, "budget_exceeded": {"type": "boolean"}, "paused_agents": {"type": "array"}})
revenue = obj({"id": {"type": "integer"}, "agent_id": AGT, "amount": money, "source": {"type": "string"}, "description": {"type": "string"},
               "recorded_at": {"type": "string"}})
importsum = obj({"source": {"type": "string"}, "lines": {"type": "integer"}, "new": {"type": "integer"}, "duplicate": {"type": "integer"},
                 "rejected": {"type": "integer"}, "committed": {"type": "boolean"}, "errors": {"type": "array"}})
status = obj({k: {"type": "integer"} for k in ["total_projects", "active_projects", "promoted_projects", "killed_projects", "total_agents", "active_agents"]}
             | {"total_cost": money, "total_revenue": money})
designrepo_props = {"id": {"type": "string"}, "name": {"type": "string"}, "url": nullable({"type": "string"}), "description": {"type": "string"},
                    "agent_type": nullable({"type": "string"}), "status": {"type": "string"}, "repository_type": {"enum": ["local", "remote", "github"]},
                    "is_private": {"type": "boolean"}, "experiments_count": {"type": "integer"}, "total_commits": {"type": "integer"},
                    "last_activity": nullable({"type": "string"}), "created_at": {"type": "string"}, "created_by": {"type": "string"},
                    "branch": {"type": "string"}, "project_id": nullable(PRJ)}
designrepo = obj(designrepo_props)
designrepo_created = obj(designrepo_props | {"path": {"type": "string"}})
result = obj({"experiment_id": {"type": "string"}, "repository_id": {"type": "string"}, "commit_sha": {"type": "string"},
              "status": {"type": "string"}, "success": {"type": "boolean"}, "test_results": {"type": "array"}, "analysis_results": {"type": "object"}})
runreport = obj({"status": {"enum": ["completed", "completed_with_failures"]}, "experiments_run": {"type": "integer"},
                 "successful_experiments": {"type": "integer"}, "tests_run": {"type": "integer"}, "proposals_created": {"type": "integer"},
                 "agent": nullable({"type": "string"}), "results": {"type": "array", "items": ref("ExperimentResult")}})
JOB = {"type": "string", "pattern": "^job_[0-9a-f]{16}$"}
job = obj({"id": JOB, "kind": {"enum": ["agent_run", "production_run", "repository_run"]}, "subject": {"type": "string"},
           "status": {"enum": ["queued", "running", "finished", "failed", "cancelled"]}, "cancel_requested": {"type": "boolean"},
           "created_at": {"type": "string"}, "started_at": nullable({"type": "string"}), "finished_at": nullable({"type": "string"}),
           "result": nullable({"type": "object"}), "error": nullable(obj({"code": {"type": "string"}, "message": {"type": "string"}})),
           "notes": {"type": "array", "items": {"type": "string"}}})
jobsummary = dict(job, required=[k for k in job["required"] if k != "result"])
name = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[A-Za-z0-9][A-Za-z0-9 ._-]*$"}
gitname = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"}
agenttype = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-z0-9_.-]+$"}
text = {"type": "string", "maxLength": 1000, "pattern": "^[^\\u0000]*$"}
tokens = {"type": "integer", "minimum": 0, "maximum": 10000000000}
amount = {"type": "number", "exclusiveMinimum": 0, "maximum": 1000000000, "multipleOf": 0.01}
projectid_param = {"name": "id", "in": "path", "required": True, "schema": PRJ}
limit_param = {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
ROWID = {"type": "string", "pattern": "^[0-9]{1,18}$"}
def rowcursor(): return {"name": "cursor", "in": "query", "required": False, "schema": ROWID}
agentid_param = {"name": "id", "in": "path", "required": True, "description": "agt_..., or PROJECT_ID/NAME (its / escaped as %2F)",
                 "schema": {"type": "string", "pattern": "^(agt_[0-9a-f]{12}|prj_[0-9a-f]{8}/[A-Za-z0-9][A-Za-z0-9 ._-]{0,99})$"}}

paths = {}
paths["/openapi.json"] = {"get": {"operationId": "openapi", "summary": "This document", "responses": ok({"type": "object"})}}
paths["/api/sandbox/create-experiment-repository"] = {"post": {
    "operationId": "createExperimentRepository", "summary": "Create an experiment repository (as repo create)",
    "requestBody": body(obj({"name": gitname, "description": text, "agent_type": agenttype, "project_id": PRJ, "branch": gitname}, required=[], extra=False)),
    "responses": ok(envelope(designrepo_created), "201", "Created") | errors("400", "404", "409", "413", "503")}}
paths["/api/sandbox/experiment-repositories"] = {"get": {
    "operationId": "listExperimentRepositories", "summary": "Experiment repositories",
    "parameters": [{"name": "project_id", "in": "query", "required": False, "schema": PRJ}],
    "responses": ok(envelope(obj({"repositories": {"type": "array", "items": ref("DesignRepository")}, "total_repositories": {"type": "integer"}})))
    | errors("400", "404", "503")}}
paths["/api/sandbox/experiment-results/{experiment_id}"] = {"get": {
    "operationId": "experimentResult", "summary": "One recorded result (as repo results)",
    "parameters": [{"name": "experiment_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 100}}],
    "responses": ok(envelope(ref("ExperimentResult"))) | errors("400", "404", "503")}}
paths["/api/sandbox/run-sandbox-experiment"] = {"post": {
    "operationId": "runSandboxExperiment", "summary": "Test and analyse revisions (as repo run)",
    "requestBody": body(obj({"repository": {"type": "string", "minLength": 1, "maxLength": 200}, "source": {"type": "string", "maxLength": 1000},
                             "revisions": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 1000}, "maxItems": 1000},
                             "last": {"type": "integer", "minimum": 1, "maximum": 1000}, "timeout": {"type": "string", "pattern": "^[0-9]+(s|m)$"},
                             "experiment_id": {"type": "integer", "minimum": 1}, "network": {"type": "boolean"},
                             "isolation": {"enum": ["namespace", "none"]}}, required=["repository"], extra=False)),
    "responses": ok(envelope(ref("RunReport"))) | errors("400", "404", "409", "413", "503")}}
paths["/api/v1/status"] = {"get": {"operationId": "status", "responses": ok(ref("SandboxStatus")) | errors("503")}}
paths["/api/v1/projects"] = {
    "get": {"operationId": "listProjects", "parameters": [
        {"name": "status", "in": "query", "required": False, "schema": {"enum": ["active", "promoted", "killed"]}},
        {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
        {"name": "cursor", "in": "query", "required": False, "schema": PRJ}],
        "responses": ok(obj({"projects": {"type": "array", "items": ref("ProjectSummary")}, "next_cursor": nullable(PRJ)})) | errors("400", "404", "503")},
    "post": {"operationId": "createProject",
             "requestBody": body(obj({"name": name, "description": text, "budget": amount,
                                      "expires_in": {"type": "string", "pattern": "^[1-9][0-9]{0,2}(m|h|d)$"}, "delete_on_expiry": {"type": "boolean"}},
                                     required=["name"], extra=False)),
             "responses": ok(ref("Project"), "201", "Created") | errors("400", "413", "503")}}
paths["/api/v1/projects/{id}"] = {"get": {"operationId": "getProject", "parameters": [projectid_param],
                                          "responses": ok(ref("ProjectDetail")) | errors("400", "404", "503")}}
paths["/api/v1/projects/{id}/agents"] = {"post": {"operationId": "deployAgent", "parameters": [projectid_param],
    "requestBody": body(obj({"type": agenttype, "name": name, "config": {"type": "object"}, "budget_tokens": {"type": "integer", "minimum": 1, "maximum": 100000000000}},
                            required=["type"], extra=False)),
    "responses": ok(ref("Agent"), "201", "Created") | errors("400", "404", "409", "413", "503")}}
paths["/api/v1/projects/{id}/experiments"] = {
    "get": {"operationId": "listExperiments", "parameters": [projectid_param, limit_param, rowcursor()],
            "responses": ok(obj({"experiments": {"type": "array", "items": ref("Experiment")}, "next_cursor": nullable(ROWID)})) | errors("400", "404", "503")},
    "post": {"operationId": "startExperiment", "parameters": [projectid_param],
             "requestBody": body(obj({"name": name, "hypothesis": text, "config": {"type": "object"}}, required=["name"], extra=False)),
             "responses": ok(ref("Experiment"), "201", "Created") | errors("400", "404", "409", "413", "503")}}
paths["/api/v1/projects/{id}/eval"] = {"post": {"operationId": "evaluate", "parameters": [projectid_param],
                                               "responses": ok({"type": "object", "required": ["recommendation"]}) | errors("400", "404", "409", "503")}}
paths["/api/v1/projects/{id}/promote"] = {"post": {"operationId": "promote", "parameters": [projectid_param],
    "requestBody": body(obj({"confirm": {"type": "boolean"}, "force": {"type": "boolean"}}, required=[], extra=False), required=False),
    "responses": ok({"type": "object", "required": ["status", "project_id"]}) | errors("400", "404", "409", "413", "503")}}
paths["/api/v1/projects/{id}/kill"] = {"post": {"operationId": "kill", "parameters": [projectid_param],
    "requestBody": body(obj({"confirm": {"type": "boolean"}, "delete": {"type": "boolean"}}, required=[], extra=False), required=False),
    "responses": ok(obj({"project_id": PRJ, "status": {"type": "string"}, "agents_killed": {"type": "integer"}, "workspace_deleted": {"type": "boolean"}}))
    | errors("400", "404", "409", "413", "503")}}
paths["/api/v1/agents/{id}"] = {"get": {"operationId": "getAgent", "parameters": [agentid_param], "responses": ok(ref("Agent")) | errors("400", "404", "503")}}
paths["/api/v1/agents/{id}/runs"] = {"get": {"operationId": "agentRuns", "summary": "An agent's runs, newest first",
                                            "parameters": [agentid_param, limit_param, rowcursor()],
                                            "responses": ok(obj({"runs": {"type": "array"}, "next_cursor": nullable(ROWID)})) | errors("400", "404", "503")}}
paths["/api/v1/agents/{id}/run"] = {"post": {"operationId": "runAgent", "summary": "Run an agent program (as sandbox run) as a job",
    "parameters": [agentid_param],
    "requestBody": body(obj({"command": {"type": "array", "items": {"type": "string", "maxLength": 4096}, "minItems": 1, "maxItems": 1000},
                             "timeout": {"type": "string", "pattern": "^[0-9]+(s|m|h)$"},
                             "env": {"type": "object", "additionalProperties": {"type": "string"}},
                             "network": {"type": "boolean"}, "isolation": {"enum": ["namespace", "none"]}}, required=["command"], extra=False)),
    "responses": ok(ref("Job"), "202", "Accepted: follow it at /api/v1/jobs/{id} (the Location header)") | errors("400", "404", "413", "429", "503")}}
paths["/api/v1/repositories/{id}/run"] = {"post": {"operationId": "runRepository", "summary": "Test and analyse revisions (as repo run) as a job",
    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 100}}],
    "requestBody": body(obj({"source": {"type": "string", "maxLength": 1000},
                             "revisions": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 1000}, "maxItems": 1000},
                             "last": {"type": "integer", "minimum": 1, "maximum": 1000}, "timeout": {"type": "string", "pattern": "^[0-9]+(s|m)$"},
                             "experiment_id": {"type": "integer", "minimum": 1}, "network": {"type": "boolean"},
                             "isolation": {"enum": ["namespace", "none"]}}, required=[], extra=False), required=False),
    "responses": ok(ref("Job"), "202", "Accepted: follow it at /api/v1/jobs/{id} (the Location header)") | errors("400", "404", "413", "429", "503")}}
paths["/api/v1/jobs"] = {"get": {"operationId": "listJobs", "summary": "Jobs, newest first", "parameters": [
    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,17}$"}}],
    "responses": ok(obj({"jobs": {"type": "array", "items": ref("JobSummary")}, "next_cursor": nullable({"type": "string"})})) | errors("400")}}
paths["/api/v1/jobs/{id}"] = {"get": {"operationId": "getJob", "parameters": [{"name": "id", "in": "path", "required": True, "schema": JOB}],
                                      "responses": ok(ref("Job")) | errors("404")}}
paths["/api/v1/jobs/{id}/cancel"] = {"post": {"operationId": "cancelJob", "summary": "Stop a job (a finished one is left as it is)",
    "parameters": [{"name": "id", "in": "path", "required": True, "schema": JOB}],
    "responses": ok(ref("Job"), "202", "Asked to stop") | errors("404")}}
paths["/api/v1/agents/{id}/pause"] = {"post": {"operationId": "pauseAgent", "parameters": [agentid_param],
    "responses": ok(ref("Agent")) | errors("400", "404", "409", "503")}}
paths["/api/v1/agents/{id}/resume"] = {"post": {"operationId": "resumeAgent", "parameters": [agentid_param],
    "responses": ok(ref("Agent")) | errors("400", "404", "409", "503")}}
budgetchange = {"type": "object", "required": ["kind", "id", "budget"]}
paths["/api/v1/agents/{id}/budget"] = {"post": {"operationId": "setAgentBudget", "parameters": [agentid_param],
    "requestBody": body(obj({"tokens": {"type": "integer", "minimum": 1, "maximum": 1000000000000}}, extra=False)),
    "responses": ok(budgetchange) | errors("400", "404", "409", "413", "503")}}
paths["/api/v1/projects/{id}/budget"] = {"post": {"operationId": "setProjectCap", "parameters": [projectid_param],
    "requestBody": body({"oneOf": [obj({"usd": amount}, extra=False), obj({"none": {"const": True}}, extra=False)]}),
    "responses": ok(budgetchange) | errors("400", "404", "409", "413", "503")}}
paths["/api/v1/projects/{id}/extend"] = {"post": {"operationId": "extendProject", "parameters": [projectid_param],
    "requestBody": body(obj({"by": {"type": "string", "pattern": "^[1-9][0-9]{0,2}(m|h|d)$"}}, extra=False)),
    "responses": ok(ref("Project")) | errors("400", "404", "409", "413", "503")}}
paths["/api/v1/sweep"] = {"post": {"operationId": "sweep", "summary": "Kill the projects whose expiry has come",
    "responses": ok({"type": "object"}) | errors("503")}}
def ledger_routes(prefix, agent, what):
    """usage, revenue and events of the sandbox or production: the same bodies, agents named as `agent`."""
    title = "Production" if prefix else ""
    paths[f"/api/v1/{prefix}usage"] = {"post": {"operationId": f"record{title}Usage",
        "requestBody": body(obj({"agent_id": agent, "model": {"type": "string", "minLength": 1, "maxLength": 100}, "input_tokens": tokens, "output_tokens": tokens,
                                 "cache_read_tokens": tokens, "cache_write_tokens": tokens, "cache_ttl": {"enum": ["5m", "1h"]}, "batch": {"type": "boolean"},
                                 "operation": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[A-Za-z0-9_.-]+$"}, "cost": {"type": "number", "minimum": 0, "maximum": 1000000000, "multipleOf": 0.01}},
                                required=["agent_id", "model", "input_tokens", "output_tokens"], extra=False)),
        "responses": ok(ref("UsageRecord"), "201", "Created") | errors("400", "404", "409", "413", "503")}}
    paths[f"/api/v1/{prefix}revenue"] = {"post": {"operationId": f"record{title}Revenue",
        "requestBody": body(obj({"agent_id": agent, "amount": amount, "source": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[A-Za-z0-9_.-]+$"},
                                 "description": text}, required=["agent_id", "amount"], extra=False)),
        "responses": ok(ref("RevenueRecord"), "201", "Created") | errors("400", "404", "409", "413", "503")}}
    paths[f"/api/v1/{prefix}events"] = {"post": {"operationId": f"import{title}Events",
        "parameters": [{"name": "skip_invalid", "in": "query", "required": False, "schema": {"enum": ["true", "false"]}}],
        "requestBody": {"required": True, "description": f"JSON Lines: one event object per line, as {what} import reads them (also accepted as application/x-ndjson or application/jsonl)", "content": {"text/plain": {"schema": {"type": "string"}}}},
        "responses": ok(ref("ImportSummary")) | {"422": {"description": "Nothing committed", "content": {"application/json": {"schema": ref("ImportSummary")}}}}
        | errors("400", "409", "413", "503")}}
ledger_routes("", AGT, "sandbox")
paths["/api/v1/compare"] = {"get": {"operationId": "compare", "parameters": [
    {"name": "projects", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^prj_[0-9a-f]{8}(,prj_[0-9a-f]{8}){1,19}$"}},
    {"name": "agents", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^agt_[0-9a-f]{12}(,agt_[0-9a-f]{12}){1,19}$"}}],
    "responses": ok({"type": "object", "required": ["kind", "columns"]}) | errors("400", "404", "503")}}
paths["/api/v1/prices"] = {"get": {"operationId": "prices", "responses": ok(obj({"at": {"type": "string"}, "prices": {"type": "array"}})) | errors("400", "503")}}
paths["/api/v1/production/agents"] = {"get": {"operationId": "productionAgents", "parameters": [limit_param,
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^(agt_[0-9a-f]{12}|prd_[0-9a-f]{16})$"}}],
    "responses": ok(obj({"agents": {"type": "array"}, "next_cursor": nullable({"type": "string"})})) | errors("400", "404", "503")}}
paths["/api/v1/production/slots/{slot}"] = {"get": {"operationId": "productionSlot",
    "parameters": [{"name": "slot", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[A-Za-z0-9_.-]+$"}}],
    "responses": ok({"type": "object", "required": ["slot", "versions"]}) | errors("400", "404", "503")}}
paths["/api/v1/production/history"] = {"get": {"operationId": "productionHistory",
    "parameters": [{"name": "subject", "in": "query", "required": False, "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[A-Za-z0-9_.-]+$"}},
                   limit_param, rowcursor()],
    "responses": ok(obj({"events": {"type": "array"}, "next_cursor": nullable(ROWID)})) | errors("400", "404", "503")}}
SUBJECT = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[A-Za-z0-9_.-]+$"}
prodagent_param = {"name": "id", "in": "path", "required": True, "schema": SUBJECT, "description": "A production agent (prd_...) or a slot"}
paths["/api/v1/production/agents/{id}/metrics"] = {"get": {"operationId": "productionMetrics", "parameters": [prodagent_param,
    {"name": "since", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^20[0-9]{2}-[01][0-9]-[0-3][0-9]$"}},
    {"name": "window", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,2}(h|d)$"}}],
    "responses": ok({"type": "object"}) | errors("400", "404", "409", "503")}}
paths["/api/v1/production/agents/{id}/runs"] = {"get": {"operationId": "productionRuns", "parameters": [prodagent_param, limit_param, rowcursor()],
    "responses": ok(obj({"runs": {"type": "array"}, "next_cursor": nullable(ROWID)})) | errors("400", "404", "409", "503")}}
paths["/api/v1/production/agents/{id}/run"] = {"post": {"operationId": "runProductionAgent", "summary": "Run a live agent (as production run) as a job",
    "parameters": [prodagent_param],
    "requestBody": body(obj({"command": {"type": "array", "items": {"type": "string", "maxLength": 4096}, "minItems": 1, "maxItems": 1000},
                             "timeout": {"type": "string", "pattern": "^[0-9]+(s|m|h)$"},
                             "env": {"type": "object", "additionalProperties": {"type": "string"}},
                             "network": {"type": "boolean"}, "isolation": {"enum": ["namespace", "none"]}}, required=["command"], extra=False)),
    "responses": ok(ref("Job"), "202", "Accepted: follow it at /api/v1/jobs/{id}") | errors("400", "404", "409", "413", "429", "503")}}
paths["/api/v1/production/agents/{id}/budget"] = {"post": {"operationId": "setProductionBudget", "parameters": [prodagent_param],
    "requestBody": body(obj({"tokens": {"type": "integer", "minimum": 1, "maximum": 1000000000000}}, extra=False)),
    "responses": ok(budgetchange) | errors("400", "404", "409", "413", "503")}}
guardrails_body = obj({"min_roi": {"type": "number"}, "min_roi_vs_sandbox": {"type": "number"}, "min_events": {"type": "integer", "minimum": 1},
                       "window": {"type": "string"}, "bake_time": {"type": "string"}, "failure_limit": {"type": "integer", "minimum": 1}}, required=[], extra=False)
paths["/api/v1/production/agents/{id}/guardrails"] = {
    "get": {"operationId": "productionGuardrails", "parameters": [prodagent_param], "responses": ok({"type": "object"}) | errors("400", "404", "409", "503")},
    "post": {"operationId": "setProductionGuardrails", "parameters": [prodagent_param], "requestBody": body(guardrails_body),
             "responses": ok({"type": "object"}) | errors("400", "404", "409", "413", "503")}}
ledger_routes("production/", SUBJECT, "production")
slotchange = {"type": "object", "required": ["kind", "slot"]}
paths["/api/v1/production/rollback"] = {"post": {"operationId": "productionRollback", "summary": "Roll back a live version (as production rollback)",
    "requestBody": body(obj({"agent": SUBJECT, "to": {"type": "string", "pattern": "^prd_[0-9a-f]{16}$"}, "reason": text, "confirm": {"type": "boolean"}},
                            required=["agent"], extra=False)),
    "responses": ok(slotchange) | errors("400", "404", "409", "413", "503")}}
paths["/api/v1/production/retire"] = {"post": {"operationId": "productionRetire", "summary": "Retire a version (as production retire)",
    "requestBody": body(obj({"agent": SUBJECT, "reason": text, "confirm": {"type": "boolean"}}, required=["agent"], extra=False)),
    "responses": ok(slotchange) | errors("400", "404", "409", "413", "503")}}
paths["/api/v1/production/check"] = {"post": {"operationId": "productionCheck",
    "requestBody": body(obj({"dry_run": {"type": "boolean"}}, required=[], extra=False), required=False),
    "responses": ok({"type": "object", "required": ["dry_run", "checks"]}) | errors("400", "409", "413", "503")}}

htmlok = {"200": {"description": "An HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}}
paths["/"] = {"get": {"operationId": "dashboard", "summary": "Dashboard: every project", "responses": htmlok | errors("503")}}
paths["/projects/{id}"] = {"get": {"operationId": "dashboardProject", "summary": "Dashboard: one project with its daily chart",
                                   "parameters": [projectid_param], "responses": htmlok | errors("400", "404", "503")}}
paths["/compare"] = {"get": {"operationId": "dashboardCompare", "summary": "Dashboard: a comparison", "parameters": [
    {"name": "projects", "in": "query", "required": True, "schema": {"type": "string", "pattern": "^prj_[0-9a-f]{8}(,prj_[0-9a-f]{8}){1,19}$"}}],
    "responses": htmlok | errors("400", "404", "503")}}
paths["/production"] = {"get": {"operationId": "dashboardProduction", "summary": "Dashboard: production slots, verdicts, history",
                                "responses": htmlok | errors("503")}}

doc = {"openapi": "3.1.0",
       "info": {"title": "novaos", "version": "1", "description": "The novaos sandbox and production over HTTP (novaos serve). Errors: {\"status\":\"error\",\"error\":{\"code\",\"message\"}}."},
       "servers": [{"url": "http://127.0.0.1:8080"}],
       "components": {"schemas": {"Error": obj({"status": {"const": "error"}, "error": obj({"code": {"type": "string"}, "message": {"type": "string"}})}),
                                  "Metrics": metrics, "Agent": agent, "Project": project, "ProjectSummary": summary, "ProjectDetail": detail,
                                  "Experiment": experiment, "UsageRecord": usage, "RevenueRecord": revenue, "ImportSummary": importsum,
                                  "SandboxStatus": status, "DesignRepository": designrepo, "ExperimentResult": result, "RunReport": runreport,
                                  "Job": job, "JobSummary": jobsummary},
                      "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "Needed when novaos serve listens off loopback (--token-file)."}}},
       "paths": paths}
# Every operation may be refused as cross-site (403); every body-taking one may get 415.
for path in paths.values():
    for method, operation in path.items():
        operation["responses"].update(errors("403"))
        if "requestBody" in operation:
            operation["responses"].update(errors("415"))
print(json.dumps(doc, indent=2, sort_keys=True))
