// A router in JavaScript asking `policyengine serve` what to do with a demand.
//
//   policyengine serve &                       # 127.0.0.1:8181, no tokens: loopback only
//   node examples/service_client.mjs RU key_disclosure all_users statute
//
// POLICYENGINE_URL and POLICYENGINE_TOKEN (a `decide` token) override the defaults.
// Prints one JSON line: the outcome, who decided, the decision id, and the
// policy version; a bad request prints the problem's field and did-you-mean
// and exits 2.  Needs Node 18 or later (global fetch); no packages.
const url = process.env.POLICYENGINE_URL || "http://127.0.0.1:8181";
const token = process.env.POLICYENGINE_TOKEN;
const [jurisdiction = "RU", kind = "key_disclosure", category = "all_users", legal_basis = "statute"] = process.argv.slice(2);

const headers = { "Content-Type": "application/json" };
if (token) headers.Authorization = `Bearer ${token}`;

const response = await fetch(`${url}/v1/decide`, {
  method: "POST",
  headers,
  body: JSON.stringify({ jurisdiction, demand: { kind, category, legal_basis } }),
});
const body = await response.json();
if (!response.ok) {
  // application/problem+json (RFC 9457) with the request error's fields
  console.log(JSON.stringify({ status: body.status, code: body.code, field: body.field, did_you_mean: body.did_you_mean }));
  process.exit(response.status >= 500 ? 1 : 2);
}
console.log(JSON.stringify({
  outcome: body.outcome,
  decided_by: body.reasons.map((r) => `${r.principle}.${r.rule}`),
  decision_id: body.decision_id,
  policy_version: body.policy_version,
}));
