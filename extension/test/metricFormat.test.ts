import { strict as assert } from "node:assert";
import { test } from "node:test";
import { compareKeys, csvField, csvFileName, formatMetricValue, formatMetricsCsv } from "../src/webview/metricFormat";

test("table values are short and exact enough", () => {
  assert.equal(formatMetricValue(undefined), "");
  assert.equal(formatMetricValue(null), "non-finite");
  assert.equal(formatMetricValue(Number.NaN), "non-finite");
  assert.equal(formatMetricValue(0), "0");
  assert.equal(formatMetricValue(42), "42");
  assert.equal(formatMetricValue(-3), "-3");
  assert.equal(formatMetricValue(0.123456789), "0.123457");
  assert.equal(formatMetricValue(0.5), "0.5");
  assert.equal(formatMetricValue(1234.56789), "1234.57");
  assert.equal(formatMetricValue(0.000012346), "1.235e-5");
  assert.equal(formatMetricValue(0.00002), "2e-5");
  assert.equal(formatMetricValue(123456789.5), "1.235e+8");
});

test("CSV fields are quoted when needed and defused against formulas", () => {
  assert.equal(csvField("loss"), "loss");
  assert.equal(csvField("val,loss"), '"val,loss"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField("a\nb"), '"a\nb"');
  assert.equal(csvField(" padded"), '" padded"');
  assert.equal(csvField("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
  assert.equal(csvField("-loss"), "'-loss");
  assert.equal(csvField("@cmd"), "'@cmd");
});

test("CSV lists every point grouped by metric and ordered by step", () => {
  const t = Date.UTC(2025, 0, 2, 3, 4, 5);
  const csv = formatMetricsCsv([
    { key: "loss", value: 0.5, step: 2, timestamp: t + 2000 },
    { key: "acc", value: 0.9, step: 1, timestamp: t + 1000 },
    { key: "loss", value: Number.NaN, step: 1, timestamp: t + 1000 },
    { key: "loss", value: 0.75, step: 0, timestamp: t },
  ]);
  assert.equal(
    csv,
    [
      "metric,step,value,timestamp_ms,time_utc",
      `acc,1,0.9,${t + 1000},2025-01-02T03:04:06.000Z`,
      `loss,0,0.75,${t},2025-01-02T03:04:05.000Z`,
      `loss,1,NaN,${t + 1000},2025-01-02T03:04:06.000Z`,
      `loss,2,0.5,${t + 2000},2025-01-02T03:04:07.000Z`,
      "",
    ].join("\r\n"),
  );
  assert.equal(formatMetricsCsv([]), "metric,step,value,timestamp_ms,time_utc\r\n");
});

test("the export file name cannot escape the chosen folder", () => {
  assert.equal(csvFileName("my run 1"), "my_run_1-metrics.csv");
  assert.equal(csvFileName("../../etc/passwd"), "etc_passwd-metrics.csv");
  assert.equal(csvFileName("..."), "run-metrics.csv");
  assert.equal(csvFileName(""), "run-metrics.csv");
  assert.ok(csvFileName("x".repeat(500)).length < 100);
});

test("metric keys sort naturally", () => {
  assert.deepEqual(["loss_10", "acc", "loss_2", "Loss_1"].sort(compareKeys), ["acc", "Loss_1", "loss_2", "loss_10"]);
});
