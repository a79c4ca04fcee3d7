import { strict as assert } from "node:assert";
import { test } from "node:test";
import type { DataColumn } from "../src/protocol";
import {
  checkSql,
  inputsOf,
  LAST_ENTRY,
  MAX_REMEMBERED_RUNS,
  orderDataFiles,
  parseBounds,
  parseEpsilon,
  parseRows,
  recallChoices,
  rememberChoices,
  reportNameOf,
  sensitiveCandidates,
  settingsOptions,
  targetCandidates,
} from "../src/reports/reportWizardSteps";

const column = (name: string, distinct: number, numeric = false): DataColumn => ({ name, distinct, numeric });

const COLUMNS: DataColumn[] = [
  column("income", 3000, true),
  column("sex", 2),
  column("age_group", 4),
  column("region", 50),
  column("approved", 2, true),
  column("zip", 800, true),
  column("branch_code", 5, true),
  column("country", 1),
];

test("sensitive features: few-group categories first, then coded numbers, then the rest", () => {
  const names = sensitiveCandidates(COLUMNS, "approved").map((c) => c.name);
  assert.deepEqual(names, ["sex", "age_group", "branch_code", "region", "income", "zip", "country"]);
});

test("sensitive features say why they are where they are, and never offer the target", () => {
  const byName = new Map(sensitiveCandidates(COLUMNS, "approved").map((c) => [c.name, c.description]));
  assert.equal(byName.has("approved"), false);
  assert.equal(byName.get("sex"), "2 values");
  assert.equal(byName.get("branch_code"), "numeric, 5 values");
  assert.match(byName.get("zip") ?? "", /too many groups; bin it first/);
  assert.match(byName.get("country") ?? "", /no groups to compare/);
});

test("sensitive features remembered from the last report are ticked", () => {
  const picked = sensitiveCandidates(COLUMNS, "approved", ["age_group", "gone"])
    .filter((c) => c.picked)
    .map((c) => c.name);
  assert.deepEqual(picked, ["age_group"]);
});

test("the target: the remembered column first, then binary columns, then file order", () => {
  assert.deepEqual(
    targetCandidates(COLUMNS).map((c) => c.name).slice(0, 3),
    ["sex", "approved", "income"],
  );
  const remembered = targetCandidates(COLUMNS, "approved");
  assert.equal(remembered[0].name, "approved");
  assert.equal(remembered[0].picked, true);
  assert.equal(remembered[0].description, "numeric, 2 values (binary)");
});

test("choices are remembered per run, and the last ones seed a new run without its model", () => {
  const choices = { kind: "fairness" as const, model: "model", data: "data.csv", target: "approved", sensitive: ["sex"] };
  const store = rememberChoices(undefined, "run-1", choices);
  assert.deepEqual(recallChoices(store, "run-1"), choices);
  assert.deepEqual(recallChoices(store, "run-2"), { kind: "fairness", data: "data.csv", target: "approved", sensitive: ["sex"] });
  const again = rememberChoices(store, "run-2", { kind: "explain", rows: "0,17" });
  assert.deepEqual(recallChoices(again, "run-1"), choices, "another run's choices do not overwrite");
  assert.deepEqual(recallChoices(again, "run-3"), { kind: "explain", rows: "0,17" });
});

test("remembered choices are checked and the oldest runs forgotten", () => {
  assert.deepEqual(recallChoices({ "run-1": { kind: "rm -rf", data: 3, sensitive: [1, "sex"], target: "" } }, "run-1"), { sensitive: ["sex"] });
  assert.deepEqual(recallChoices("junk", "run-1"), {});
  let store = rememberChoices({}, "run-0", { data: "first.csv" });
  for (let i = 1; i <= MAX_REMEMBERED_RUNS + 5; i++) {
    store = rememberChoices(store, `run-${i}`, { data: `${i}.csv` });
  }
  const runs = Object.keys(store).filter((key) => key !== LAST_ENTRY);
  assert.equal(runs.length, MAX_REMEMBERED_RUNS);
  assert.equal(runs.includes("run-0"), false);
  assert.equal(runs.includes(`run-${MAX_REMEMBERED_RUNS + 5}`), true);
});

test("rows to explain: row numbers, de-duplicated, at most twenty", () => {
  assert.deepEqual(parseRows("3, 17"), { rows: "3,17" });
  assert.deepEqual(parseRows(" 0 "), { rows: "0" });
  assert.deepEqual(parseRows("5,5,2,"), { rows: "5,2" });
  assert.ok("error" in parseRows(""));
  assert.match((parseRows("3, x") as { error: string }).error, /x is not a row number/);
  assert.ok("error" in parseRows("-1"));
  assert.ok("error" in parseRows("1.5"));
  assert.match((parseRows(Array.from({ length: 21 }, (_, i) => i).join(",")) as { error: string }).error, /At most 20/);
});

test("epsilon must be a positive number", () => {
  assert.deepEqual(parseEpsilon("1"), { epsilon: 1 });
  assert.deepEqual(parseEpsilon(" 0.5 "), { epsilon: 0.5 });
  assert.deepEqual(parseEpsilon("1e-3"), { epsilon: 0.001 });
  for (const bad of ["0", "-1", "", "abc", "Infinity", "1,5"]) {
    assert.ok("error" in parseEpsilon(bad), bad);
  }
  assert.match((parseEpsilon("0") as { error: string }).error, /greater than 0/);
});

test("a private query is one SELECT", () => {
  assert.equal(checkSql("SELECT COUNT(*) FROM data"), undefined);
  assert.equal(checkSql("  with t as (select 1) select * from t"), undefined);
  assert.match(checkSql("") ?? "", /Write the query/);
  assert.match(checkSql("DROP TABLE data") ?? "", /SELECT/);
  assert.match(checkSql(`SELECT ${"x".repeat(10_001)}`) ?? "", /longer than/);
});

test("each kind asks for what its verb takes", () => {
  assert.deepEqual(inputsOf("fairness"), { model: true, data: true, target: true, sensitive: true, rows: false });
  assert.deepEqual(inputsOf("explain"), { model: true, data: true, target: true, sensitive: false, rows: true });
  assert.deepEqual(inputsOf("card"), { model: false, data: false, target: false, sensitive: false, rows: false });
  assert.equal(inputsOf("privacy-synth").data, true);
});

test("settings reach the server as the verb's options", () => {
  const settings = { maxDataMb: 256, privacyBudget: 5 };
  assert.deepEqual(settingsOptions("fairness", settings), { max_data_mb: 256 });
  assert.deepEqual(settingsOptions("card", settings), {});
  assert.deepEqual(settingsOptions("privacy-synth", settings), { max_data_mb: 256, budget: 5 });
  assert.deepEqual(settingsOptions("privacy-query", { maxDataMb: 0, privacyBudget: -1 }), {}, "nonsense settings are left to the server's defaults");
});

test("data files: the remembered one first, then by path", () => {
  assert.deepEqual(orderDataFiles(["b/x.csv", "a.csv", "data.csv", "a.csv"], "data.csv"), ["data.csv", "a.csv", "b/x.csv"]);
  assert.deepEqual(orderDataFiles(["b.csv", "a.csv"], "gone.csv"), ["a.csv", "b.csv"]);
});

test("a report's name is its file's stem under reports/", () => {
  assert.equal(reportNameOf("reports/fairness.json"), "fairness");
  assert.equal(reportNameOf("reports/privacy-synth.json"), "privacy-synth");
  assert.equal(reportNameOf(null), undefined);
  assert.equal(reportNameOf("reports/fairness.html"), undefined);
});

test("public ranges: COLUMN=LOW:HIGH of numeric columns, LOW below HIGH", () => {
  const numeric = ["income", "age"];
  assert.deepEqual(parseBounds("income=0:200000, age = 18 : 100", numeric), { bounds: "income=0:200000,age=18:100" });
  assert.deepEqual(parseBounds("income=-1.5e3:2e3", numeric), { bounds: "income=-1500:2000" });
  assert.deepEqual(parseBounds("  ", numeric), { bounds: "" }, "none: the verb estimates them");
  assert.match((parseBounds("income=5:1", numeric) as { error: string }).error, /LOW must be below HIGH/);
  assert.match((parseBounds("income", numeric) as { error: string }).error, /COLUMN=LOW:HIGH/);
  assert.match((parseBounds("income=a:b", numeric) as { error: string }).error, /numbers/);
  assert.match((parseBounds("sex=0:1", numeric) as { error: string }).error, /not a numeric column of the data \(income, age\)/);
  assert.deepEqual(parseBounds("sex=0:1"), { bounds: "sex=0:1" }, "without the columns, any name");
});
